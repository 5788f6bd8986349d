package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/hub/cli"
	"github.com/insightpulse/pulsehub/services/hub/embedded"
	"github.com/insightpulse/pulsehub/services/ingester/ingestbench"
)

// Scenario 8: the hub's ingester against a Benthos peer doing the least
// an ingester must (receive, publish synchronously, answer after the
// PubAck), each in its own process, publishing into the same embedded
// JetStream of this process, with the same signed 7 KB push deliveries at
// the same concurrency for the same time, in alternating rounds.

const (
	// peerProfileEnv names a directory for the peers' profiles: each
	// peer writes <peer>.cpu and, when it stops, <peer>.heap (allocations
	// and what is in use). The hub peer then runs from this program
	// (cli.Main, the hub binary's own code) instead of the hub binary.
	peerProfileEnv = "PULSEHUB_BENCH_PEER_PROFILES"
	// baselineHubEnv names a hub binary (built from another commit) that
	// scenario 10 measures too, in the same rounds: what a change bought.
	baselineHubEnv = "PULSEHUB_BENCH_BASELINE_HUB"
	// hubEmbeddedEnv, set, makes the hub peers run their own embedded NATS
	// server (`hub run --only ingester` as shipped, one process): its RSS
	// then includes the server storing the deliveries. Not a comparison
	// with Benthos (whose JetStream is elsewhere); issue 14's memory bound.
	hubEmbeddedEnv = "PULSEHUB_BENCH_HUB_EMBEDDED"
	// hubGOGCEnv sets GOGC for the hub peer only (not a baseline): what
	// the garbage collector's pace costs it.
	hubGOGCEnv = "PULSEHUB_BENCH_HUB_GOGC"
	// loadGenEnv picks scenario 10's load generator: "raw" (the default:
	// ingestbench.RawClient, the same requests as net/http's client for a
	// fraction of its CPU, as the wrk) or "go" (net/http's client).
	loadGenEnv = "PULSEHUB_BENCH_LOADGEN"
)

// loadGenerator is scenario 10's client, as loadGenEnv says.
func loadGenerator() ingestbench.Client {
	if os.Getenv(loadGenEnv) == "go" {
		return ingestbench.GoClient
	}
	return ingestbench.RawClient
}

// peerConcurrency is scenario 10's number of senders at once.
const peerConcurrency = 64

// The peers.
const (
	peerHub     = "ingest-hub"
	peerBenthos = "benthos"
)

// runPeer is this program as a peer's process (a child whose role is a
// peer of scenario 10): it serves until ctx is done and returns the exit
// status.
func runPeer(ctx context.Context, a childArgs) int {
	name := a.Role
	if dir := os.Getenv(peerProfileEnv); dir != "" { // profiles of the peer, for docs/performance.md
		stop := profile(filepath.Join(dir, name))
		defer stop()
	}
	var err error
	switch name {
	case peerHub: // the hub's own command line, as the hub binary runs it
		if code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr); code != 0 { // hubPeer's arguments
			err = fmt.Errorf("hub run exited %d", code)
		}
	case peerBenthos:
		err = runBenthos(ctx, a.NATS, a.Listen, events.GitHubSubject("push", ""), peerConcurrency)
	case peerFloor:
		err = runIngestFloor(ctx, a.NATS, a.Listen, events.GitHubSubject("push", ""))
	default:
		err = fmt.Errorf("unknown peer %q", name)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench peer %s: %v\n", name, err)
		return 1
	}
	return 0
}

// profile starts a CPU profile in base.cpu; the returned stop ends it and
// writes the heap profile to base.heap.
func profile(base string) (stop func()) {
	cpu, err := os.Create(base + ".cpu")
	if err != nil || pprof.StartCPUProfile(cpu) != nil {
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		if heap, err := os.Create(base + ".heap"); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(heap, 0)
			heap.Close()
		}
	}
}

// IngestPeers is scenario 10: every round of each peer, and the medians.
type IngestPeers struct {
	Concurrency int           `json:"concurrency"`
	Duration    time.Duration `json:"duration_ns"` // of each measured round, after a warm-up
	Sync        string        `json:"sync_interval"`
	LoadGen     string        `json:"load_generator"` // "raw" or "go" (loadGenEnv)
	Hub         PeerRuns      `json:"hub"`
	// Baseline is a second hub binary measured the same way (another
	// commit), when PULSEHUB_BENCH_BASELINE_HUB names one.
	Baseline *PeerRuns `json:"baseline,omitempty"`
	Benthos  PeerRuns  `json:"benthos"`
	// Floor is the raw JetStream floor (bench/floor.go): net/http and a
	// synchronous publish, nothing else; the ceiling of any ingester here.
	Floor PeerRuns `json:"floor"`
	Ratio float64  `json:"ratio"` // median hub deliveries/s over Benthos's
	// RoundRatios are each round's hub deliveries/s over Benthos's in the
	// same round (next to each other in time, so under the same load from
	// whatever else runs on the machine); PairedRatio is their median.
	RoundRatios []float64 `json:"round_ratios"`
	PairedRatio float64   `json:"paired_ratio"`
}

// PeerRuns are one peer's rounds.
type PeerRuns struct {
	Name   string      `json:"name"`
	Rounds []PeerRound `json:"rounds"`
	Median PeerRound   `json:"median"` // each field's median over the rounds
}

// PeerRound is one measured round of one peer.
type PeerRound struct {
	Deliveries int           `json:"deliveries"`
	PerSecond  float64       `json:"per_second"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	// CPUPerDelivery is the peer process's CPU time (user + system) over
	// the round divided by its deliveries (the NATS server and the load
	// generator, in this process, are not in it).
	CPUPerDelivery time.Duration `json:"cpu_per_delivery_ns"`
	// BenchCPUPerDelivery is this process's: the load generator and the
	// NATS server storing the deliveries (the same work for every peer).
	BenchCPUPerDelivery time.Duration `json:"bench_cpu_per_delivery_ns"`
	// RSSPeak is the peer's peak resident set (VmHWM), start to end of
	// the round, warm-up included.
	RSSPeak uint64 `json:"rss_peak"`
}

func (p *PeerRuns) median() {
	col := func(f func(PeerRound) float64) float64 {
		v := make([]float64, len(p.Rounds))
		for i, r := range p.Rounds {
			v[i] = f(r)
		}
		return median(v)
	}
	p.Median = PeerRound{
		Deliveries:          int(col(func(r PeerRound) float64 { return float64(r.Deliveries) })),
		PerSecond:           col(func(r PeerRound) float64 { return r.PerSecond }),
		P50:                 time.Duration(col(func(r PeerRound) float64 { return float64(r.P50) })),
		P99:                 time.Duration(col(func(r PeerRound) float64 { return float64(r.P99) })),
		CPUPerDelivery:      time.Duration(col(func(r PeerRound) float64 { return float64(r.CPUPerDelivery) })),
		BenchCPUPerDelivery: time.Duration(col(func(r PeerRound) float64 { return float64(r.BenchCPUPerDelivery) })),
		RSSPeak:             uint64(col(func(r PeerRound) float64 { return float64(r.RSSPeak) })),
	}
}

func runIngestPeers(ctx context.Context, o Options, r *Report) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	baseline := os.Getenv(baselineHubEnv)
	env, err := startNATS()
	if err != nil {
		return err
	}
	defer env.close()
	// One Bench for every round: its delivery GUIDs stay unique across
	// rounds, so nothing is a duplicate.
	b := ingestbench.Attach(nil, "", benchSecret)
	defer b.Close()
	p := &IngestPeers{Concurrency: peerConcurrency, Duration: o.PeerDuration, Sync: embedded.DefaultSyncInterval, LoadGen: cmp.Or(string(loadGenerator()), "go"),
		Hub: PeerRuns{Name: "hub " + hubVersion()}, Benthos: PeerRuns{Name: "Benthos " + moduleVersion("github.com/redpanda-data/benthos/v4")},
		Floor: PeerRuns{Name: "raw JetStream floor"}}
	if baseline != "" {
		p.Baseline = &PeerRuns{Name: "baseline " + filepath.Base(baseline)}
	}
	for round := range o.Rounds {
		order := []*PeerRuns{&p.Hub, &p.Benthos, &p.Floor}
		if p.Baseline != nil {
			order = append(order, p.Baseline)
		}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, runs := range order {
			hub := o.HubBinary
			if hub == "" || os.Getenv(peerProfileEnv) != "" {
				hub = self // no hub binary built (the smoke test), or profiled: the hub's own code in this program (see peerProfileEnv)
			}
			var cmd peerCommand
			switch runs {
			case &p.Benthos:
				cmd = benthosPeer(ctx, self, peerBenthos, env.srv.ClientURL())
			case &p.Floor:
				cmd = benthosPeer(ctx, self, peerFloor, env.srv.ClientURL())
			default:
				bin := hub
				if runs == p.Baseline {
					bin = baseline
				}
				cmd = hubPeer(ctx, bin, env.srv.ClientURL())
				if g := os.Getenv(hubGOGCEnv); g != "" && runs == &p.Hub {
					cmd.cmd.Env = append(cmd.cmd.Env, "GOGC="+g)
					runs.Name = "hub GOGC=" + g
				}
				if os.Getenv(hubEmbeddedEnv) != "" {
					if cmd, err = hubEmbeddedPeer(ctx, bin); err != nil {
						return err
					}
				}
			}
			pr, err := measurePeer(ctx, o, b, cmd)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", runs.Name, round+1, err)
			}
			fmt.Fprintf(o.Log, "  round %d %-16s %7.0f deliveries/s  p50 %6.2f ms  p99 %6.2f ms  CPU %4.0f µs/delivery (+ %3.0f µs load generator and NATS)  RSS peak %s\n",
				round+1, runs.Name, pr.PerSecond, msf(pr.P50), msf(pr.P99), us(pr.CPUPerDelivery), us(pr.BenchCPUPerDelivery), mib(pr.RSSPeak))
			runs.Rounds = append(runs.Rounds, pr)
			// What was stored is not needed: each round starts empty.
			if s, err := env.js.Stream(ctx, events.StreamGitHub); err == nil {
				_ = s.Purge(ctx)
			}
		}
	}
	p.Hub.median()
	p.Benthos.median()
	p.Floor.median()
	if p.Baseline != nil {
		p.Baseline.median()
	}
	p.Ratio = p.Hub.Median.PerSecond / p.Benthos.Median.PerSecond
	for i := range p.Hub.Rounds {
		p.RoundRatios = append(p.RoundRatios, p.Hub.Rounds[i].PerSecond/p.Benthos.Rounds[i].PerSecond)
	}
	p.PairedRatio = median(p.RoundRatios)
	r.Peers = p
	return nil
}

// peerCommand is one peer's process: where it listens, and the command.
type peerCommand struct {
	addr   string // host:port of its POST /github
	health string // a GET answering 200 once it serves; "" = wait for the port
	cmd    *exec.Cmd
	// cleanup, when set, runs once the process has stopped.
	cleanup func()
}

// hubPeer is `hub run --only ingester` against the bench's NATS server,
// with its defaults but the listen address and the webhook secret.
func hubPeer(ctx context.Context, hub, natsURL string) peerCommand {
	addr := loopbackAddr()
	cmd := exec.CommandContext(ctx, hub, "run", "--only", "ingester")
	cmd.Dir = os.TempDir()
	spec, _ := json.Marshal(childArgs{Role: peerHub}) // read only when hub is this program (profiles)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec), "PULSEHUB_NATS_URL="+natsURL, "PULSEHUB_GITHUB_WEBHOOK_SECRET="+benchSecret,
		"PULSEHUB_INGESTER_HTTP_LISTEN="+addr)
	return peerCommand{addr: addr, health: "http://" + addr + "/health", cmd: cmd}
}

// hubEmbeddedPeer is `hub run --only ingester` with its own embedded
// NATS server in a temporary data directory (see hubEmbeddedEnv).
func hubEmbeddedPeer(ctx context.Context, hub string) (peerCommand, error) {
	dir, err := os.MkdirTemp("", "hubbench-embedded")
	if err != nil {
		return peerCommand{}, err
	}
	addr := loopbackAddr()
	cmd := exec.CommandContext(ctx, hub, "run", "--only", "ingester", "--data-dir", filepath.Join(dir, "data"))
	cmd.Dir = dir
	spec, _ := json.Marshal(childArgs{Role: peerHub}) // read only when hub is this program (profiles)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec), "PULSEHUB_GITHUB_WEBHOOK_SECRET="+benchSecret, "PULSEHUB_INGESTER_HTTP_LISTEN="+addr,
		"PULSEHUB_EMBEDDED_LISTEN="+loopbackAddr(), "PULSEHUB_EMBEDDED_MONITOR=off")
	return peerCommand{addr: addr, health: "http://" + addr + "/health", cmd: cmd, cleanup: func() { os.RemoveAll(dir) }}, nil
}

// benthosPeer is this program as the Benthos peer, or as another peer
// role that takes the same arguments (the floor).
func benthosPeer(ctx context.Context, self, role, natsURL string) peerCommand {
	addr := loopbackAddr()
	spec, _ := json.Marshal(childArgs{Role: role, NATS: natsURL, Listen: addr})
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	return peerCommand{addr: addr, cmd: cmd}
}

// measurePeer starts the peer, warms it up, measures one round, and stops it.
func measurePeer(ctx context.Context, o Options, b *ingestbench.Bench, p peerCommand) (PeerRound, error) {
	var stderr strings.Builder
	p.cmd.Stderr = &stderr // stdout (the hub's request log) goes to /dev/null
	if err := p.cmd.Start(); err != nil {
		if p.cleanup != nil {
			p.cleanup()
		}
		return PeerRound{}, err
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		if p.cleanup != nil {
			defer p.cleanup()
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			return errors.Join(errors.New("did not stop within 30s"), <-done)
		}
	}
	defer stop()
	pid := p.cmd.Process.Pid
	if err := waitServing(p, 30*time.Second); err != nil {
		return PeerRound{}, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	url := "http://" + p.addr + "/github"
	s := ingestbench.Scenario{Mode: ingestbench.HTTP, Concurrency: peerConcurrency, Payload: pushPayload, URL: url, Client: loadGenerator()}
	warm := s
	warm.Duration = min(o.PeerDuration/10, 5*time.Second)
	if _, err := b.Run(ctx, warm); err != nil {
		return PeerRound{}, fmt.Errorf("warm-up: %w\n%s", err, stderr.String())
	}
	cpu0, bench0 := cpuTime(pid), cpuTime(os.Getpid())
	s.Duration = o.PeerDuration
	res, err := b.Run(ctx, s)
	if err != nil {
		return PeerRound{}, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	pr := PeerRound{Deliveries: res.Scenario.Deliveries, PerSecond: res.PerSecond, P50: res.P50, P99: res.P99,
		CPUPerDelivery:      (cpuTime(pid) - cpu0) / time.Duration(max(res.Scenario.Deliveries, 1)),
		BenchCPUPerDelivery: (cpuTime(os.Getpid()) - bench0) / time.Duration(max(res.Scenario.Deliveries, 1)),
		RSSPeak:             peakRSS(pid)}
	if err := stop(); err != nil && !isSignalExit(err) {
		return pr, fmt.Errorf("stopped with %w\n%s", err, stderr.String())
	}
	return pr, nil
}

// isSignalExit is an exit by the SIGTERM measurePeer sent (the hub exits
// 0 on it; a Go program without a handler dies of it).
func isSignalExit(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return true
		}
	}
	return false
}

// waitServing waits until the peer answers its health check, or accepts
// connections on its port when it has none.
func waitServing(p peerCommand, d time.Duration) error {
	if p.health != "" {
		return waitHealthy(p.health, d)
	}
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening within %s: %w", p.addr, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loopbackAddr is a free port on 127.0.0.1.
func loopbackAddr() string {
	port, err := freePort()
	if err != nil {
		return "127.0.0.1:0"
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// moduleVersion is the version of a module this program was built with.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}

var hubVersionOnce = sync.OnceValue(func() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "(this tree)"
	}
	return "@" + strings.TrimSpace(string(out))
})

// hubVersion names the commit the hub peer was built from, when known.
func hubVersion() string { return hubVersionOnce() }

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// ingestPeersMarkdown is scenario 10's table.
func ingestPeersMarkdown(b *strings.Builder, p *IngestPeers) {
	if p == nil {
		return
	}
	fmt.Fprintf(b, "\n### 10. Ingest vs Benthos: signed 7 KB `push` deliveries, c=%d, %s per round, %d rounds alternating, medians, load generator %s\n\n",
		p.Concurrency, p.Duration, len(p.Hub.Rounds), cmp.Or(p.LoadGen, "go"))
	b.WriteString("| peer | deliveries/s | p50 | p99 | CPU per delivery (peer process) | CPU per delivery (load generator + NATS) | RSS peak | rounds (deliveries/s) |\n|---|---|---|---|---|---|---|---|\n")
	all := []PeerRuns{p.Hub, p.Benthos}
	if p.Baseline != nil {
		all = append(all, *p.Baseline)
	}
	if len(p.Floor.Rounds) > 0 {
		all = append(all, p.Floor)
	}
	for _, runs := range all {
		var per []string
		for _, r := range runs.Rounds {
			per = append(per, fmt.Sprintf("%.0f", r.PerSecond))
		}
		m := runs.Median
		fmt.Fprintf(b, "| %s | %.0f | %s | %s | %.0f µs | %.0f µs | %s | %s |\n", runs.Name, m.PerSecond, ms(m.P50), ms(m.P99),
			us(m.CPUPerDelivery), us(m.BenchCPUPerDelivery), mib(m.RSSPeak), strings.Join(per, ", "))
	}
	var rr []string
	for _, r := range p.RoundRatios {
		rr = append(rr, fmt.Sprintf("%.2f", r))
	}
	fmt.Fprintf(b, "\nRatio hub / Benthos of the medians: **%.2f×**; round by round %s (median %.2f×). Target ≥ 1.2×, p99 ≤ Benthos's, RSS < 200 MiB. Both publish into this process's embedded JetStream "+
		"(file store, sync_interval %s); the hub verifies the signature, parses the payload, builds the envelope, logs and counts each request; "+
		"the Benthos peer (core http_server → a synchronous JetStream output, answered after the PubAck) does none of that.\n",
		p.Ratio, strings.Join(rr, ", "), p.PairedRatio, cmp.Or(p.Sync, "default"))
	if f := p.Floor.Median.PerSecond; f > 0 {
		fmt.Fprintf(b, "\nThe raw JetStream floor (net/http, the body read, a synchronous publish with Nats-Msg-Id, 200 after the PubAck; nothing else) is the ceiling of any ingester on this machine: "+
			"hub %.2f×, Benthos %.2f× of it.\n", p.Hub.Median.PerSecond/f, p.Benthos.Median.PerSecond/f)
	}
}
