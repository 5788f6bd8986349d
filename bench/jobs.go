package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// JobsPeers is scenario 9: the dispatcher against River on PostgreSQL,
// the same jobs (each one POST to the same no-op service process),
// rounds alternating hub, tuned River, River with its defaults.
type JobsPeers struct {
	Jobs   int `json:"jobs"`
	Rounds int `json:"rounds"`
	// DefaultsJobs is the defaults row's N: River's default 100 ms fetch
	// cooldown makes it about 16× slower, so it runs a quarter of the jobs.
	DefaultsJobs int       `json:"defaults_jobs"`
	Hub          []PeerRun `json:"hub"`
	River        []PeerRun `json:"river"`
	// Floor is raw JetStream doing the same jobs with none of the hub's
	// records (bench/jobsfloor.go): the least any runner on it pays.
	Floor         []PeerRun `json:"jetstream_floor"`
	RiverDefaults []PeerRun `json:"river_defaults"`
	// RiverSkipped says why there are no River rows (PostgreSQL missing).
	RiverSkipped string `json:"river_skipped,omitempty"`
	Postgres     string `json:"postgres,omitempty"`
	RiverVersion string `json:"river_version"`
}

// warmUp is the unmeasured run before each peer's measured one, the size
// dispatchbench uses.
func warmUp(n int) int { return min(max(1, n/5), 1000) }

func runJobsPeers(ctx context.Context, o Options, r *Report) error {
	p := &JobsPeers{Jobs: o.PeerJobs, Rounds: o.Rounds, DefaultsJobs: max(1, o.PeerJobs/4), RiverVersion: riverVersion}
	r.JobsPeers = p
	noop, err := startNoop(ctx)
	if err != nil {
		return err
	}
	defer noop.stop()
	pg, err := startPostgres(ctx)
	switch {
	case errors.Is(err, errNoPostgres):
		p.RiverSkipped = err.Error()
		fmt.Fprintf(o.Log, "  River skipped: %v\n", err)
	case err != nil:
		return fmt.Errorf("start PostgreSQL: %w", err)
	default:
		defer pg.stop()
		p.Postgres = pg.version
		if err := migrateRiver(ctx, pg.dsn()); err != nil {
			return fmt.Errorf("River migrations: %w", err)
		}
	}
	for round := range o.Rounds {
		peers := []struct {
			rows *[]PeerRun
			args childArgs
		}{{&p.Hub, childArgs{Role: "hub", URL: noop.url, Jobs: p.Jobs, CPUProfile: o.HubProfile}},
			{&p.Floor, childArgs{Role: "floor", URL: noop.url, Jobs: p.Jobs}}}
		if pg != nil {
			a := childArgs{Role: "river", URL: noop.url, DSN: pg.dsn(), ServerPID: pg.pid()}
			tuned, defaults := a, a
			tuned.Tuned, tuned.Jobs, defaults.Jobs = true, p.Jobs, p.DefaultsJobs
			peers = append(peers, struct {
				rows *[]PeerRun
				args childArgs
			}{&p.River, tuned}, struct {
				rows *[]PeerRun
				args childArgs
			}{&p.RiverDefaults, defaults})
		}
		for _, peer := range peers {
			cpu0 := noop.cpu()
			run, err := runChild(ctx, peer.args)
			if err != nil {
				return fmt.Errorf("round %d: %w", round+1, err)
			}
			// The no-op service's CPU over the whole child (warm-up included), per job.
			run.NoopCPUPerJob = (noop.cpu() - cpu0) / time.Duration(run.Jobs+warmUp(run.Jobs))
			*peer.rows = append(*peer.rows, run)
			fmt.Fprintf(o.Log, "  round %d %s%s: %.0f jobs/s, %s CPU/job (+%s server), peak RSS %s\n", round+1, peer.args.Role,
				map[bool]string{true: " tuned", false: ""}[peer.args.Tuned && peer.args.Role == "river"], run.PerSecond,
				run.CPUPerJob.Round(time.Microsecond), run.ServerCPUPerJob.Round(time.Microsecond), mib(run.RSS))
		}
	}
	return nil
}

// medianRun is the round of the median throughput (the lower middle of an even count).
func medianRun(runs []PeerRun) PeerRun {
	if len(runs) == 0 {
		return PeerRun{}
	}
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b PeerRun) int { return cmp.Compare(a.PerSecond, b.PerSecond) })
	return s[(len(s)-1)/2]
}

// medianOf is the median of one number over the runs.
func medianOf(runs []PeerRun, f func(PeerRun) float64) float64 {
	v := make([]float64, 0, len(runs))
	for _, r := range runs {
		v = append(v, f(r))
	}
	return median(v)
}

func jobsPeersMarkdown(b *strings.Builder, p *JobsPeers) {
	if p == nil {
		return
	}
	fmt.Fprintf(b, "\n### 9. Jobs vs River: %d jobs, each one POST to the same no-op HTTP service process, capacity 64, %d rounds alternating\n\n", p.Jobs, p.Rounds)
	b.WriteString("| peer | jobs | jobs/s (median) | rounds | CPU per job (median: process + server) | peak RSS (+ server PSS) | hub / peer |\n|---|---|---|---|---|---|---|\n")
	hub := medianOf(p.Hub, func(r PeerRun) float64 { return r.PerSecond })
	row := func(name string, runs []PeerRun, ratio bool) {
		if len(runs) == 0 {
			return
		}
		ps := medianOf(runs, func(r PeerRun) float64 { return r.PerSecond })
		cpu := time.Duration(medianOf(runs, func(r PeerRun) float64 { return float64(r.CPUPerJob + r.ServerCPUPerJob) }))
		proc := time.Duration(medianOf(runs, func(r PeerRun) float64 { return float64(r.CPUPerJob) }))
		var each []string
		for _, r := range runs {
			each = append(each, fmt.Sprintf("%.0f", r.PerSecond))
		}
		m := medianRun(runs)
		mem := mib(m.RSS)
		if m.ServerMemory > 0 {
			mem += " + " + mib(m.ServerMemory)
		}
		cpuText := cpu.Round(time.Microsecond).String()
		if cpu != proc {
			cpuText = fmt.Sprintf("%s (%s + %s)", cpuText, proc.Round(time.Microsecond), (cpu - proc).Round(time.Microsecond))
		}
		r := "—"
		if ratio && ps > 0 {
			r = fmt.Sprintf("%.2f×", hub/ps)
		}
		fmt.Fprintf(b, "| %s | %d | %.0f | %s | %s | %s | %s |\n", name, m.Jobs, ps, strings.Join(each, ", "), cpuText, mem, r)
	}
	row("Pulse Hub dispatcher (embedded JetStream in its process)", p.Hub, false)
	if p.RiverSkipped != "" {
		fmt.Fprintf(b, "| River %s | — | — | — | — | — | %s |\n", p.RiverVersion, p.RiverSkipped)
	} else {
		row(fmt.Sprintf("River %s, tuned (MaxWorkers 64, FetchCooldown 2 ms, FetchPollInterval 20 ms)", p.RiverVersion), p.River, true)
		row(fmt.Sprintf("River %s, defaults (MaxWorkers 64)", p.RiverVersion), p.RiverDefaults, true)
	}
	row("raw JetStream floor (pull, call, result with its PubAck, ack; no job records)", p.Floor, true)
	noop := time.Duration(medianOf(p.Hub, func(r PeerRun) float64 { return float64(r.NoopCPUPerJob) }))
	fmt.Fprintf(b, "\nEach round runs each peer in a process of its own (a fresh embedded JetStream for the hub; River on %s, started by the bench with fsync and synchronous_commit on, its table truncated), after an unmeasured warm-up; jobs are enqueued before the clock starts. CPU per job is the peer's process, plus PostgreSQL's processes for River; the no-op service (%s per call) is in neither. The floor is the same embedded JetStream doing each job with nothing the hub promises besides one stored answer (no states, cancel, result cache, attempts, retries, logs or metrics): the least any job runner on it pays.\n",
		or(p.Postgres, "PostgreSQL"), noop.Round(time.Microsecond))
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
