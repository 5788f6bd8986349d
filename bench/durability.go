package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch/dispatchbench"
	"github.com/insightpulse/pulsehub/services/hub/embedded"
	"github.com/insightpulse/pulsehub/services/ingester/ingestbench"
)

// syncSettings are scenario 7's embedded.sync_interval values: nats-server's
// own default first (the base of the ratios), a bounded interval, a sync
// before every acknowledgement, and the hub's default if it is none of them.
var syncSettings = func() []string {
	s := []string{"2m", "1s", embedded.SyncAlways}
	if !slices.Contains(s, embedded.DefaultSyncInterval) {
		s = append(s, embedded.DefaultSyncInterval)
	}
	return s
}()

// DurabilityRow is scenario 7 at one embedded.sync_interval, every round's
// numbers.
type DurabilityRow struct {
	Sync       string `json:"sync_interval"`
	HubDefault bool   `json:"hub_default"`
	IngestC1   Spread `json:"ingest_c1"`  // signed deliveries, one at a time
	IngestC64  Spread `json:"ingest_c64"` // signed deliveries, 64 at once
	RawC64     Spread `json:"raw_c64"`    // raw JetStream publishes, 64 at once
	Dispatch   Spread `json:"dispatch"`   // dispatcher jobs/s at capacity 64 (p99 not measured)
}

// Spread is one measurement repeated: per-second rates and p99 latencies,
// one per round.
type Spread struct {
	PerSecond []float64       `json:"per_second"`
	P99       []time.Duration `json:"p99_ns,omitempty"`
}

func (s *Spread) add(perSecond float64, p99 time.Duration) {
	s.PerSecond = append(s.PerSecond, perSecond)
	if p99 > 0 {
		s.P99 = append(s.P99, p99)
	}
}

// Median is the middle rate (the lower middle for an even count).
func (s Spread) Median() float64 { return median(s.PerSecond) }

// MedianP99 is the middle p99.
func (s Spread) MedianP99() time.Duration { return median(s.P99) }

func median[T float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[(len(v)-1)/2]
}

// runDurability measures what each sync setting costs. Each round runs
// every setting in turn on a fresh server (so drift on a shared machine
// touches all of them alike); the report keeps every round.
func runDurability(ctx context.Context, o Options, r *Report) error {
	rows := make([]DurabilityRow, len(syncSettings))
	for i, s := range syncSettings {
		rows[i] = DurabilityRow{Sync: s, HubDefault: s == embedded.DefaultSyncInterval}
	}
	for round := range o.Rounds {
		for i := range rows {
			if err := durabilityRound(ctx, o, &rows[i]); err != nil {
				return fmt.Errorf("sync_interval %s: %w", rows[i].Sync, err)
			}
			row := rows[i]
			fmt.Fprintf(o.Log, "  round %d, sync_interval %-6s: ingest c=1 %.0f/s, c=64 %.0f/s, raw c=64 %.0f/s, dispatcher %.0f jobs/s\n", round+1, row.Sync,
				last(row.IngestC1.PerSecond), last(row.IngestC64.PerSecond), last(row.RawC64.PerSecond), last(row.Dispatch.PerSecond))
		}
	}
	r.Durability = rows
	return nil
}

func last(v []float64) float64 { return v[len(v)-1] }

// durabilityRound measures one setting once: ingest at concurrency 1 and
// 64 and raw publishes at 64 on one server, then the dispatcher on another.
func durabilityRound(ctx context.Context, o Options, row *DurabilityRow) error {
	if err := ingestRound(ctx, o, row); err != nil {
		return err
	}
	env, err := startNATSSync(row.Sync)
	if err != nil {
		return err
	}
	defer env.close()
	rep, err := dispatchbench.Run(ctx, env.deps, dispatchbench.Options{Jobs: max(o.Jobs/2, 100), Capacity: 64, FailingJobs: 1})
	if err != nil {
		return err
	}
	row.Dispatch.add(rep.Dispatcher.PerSecond, 0)
	return nil
}

func ingestRound(ctx context.Context, o Options, row *DurabilityRow) (err error) {
	env, err := startNATSSync(row.Sync)
	if err != nil {
		return err
	}
	defer env.close()
	b, err := ingestbench.Start(ctx, env.nc, env.js)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}()
	// Unmeasured: the stream's first block and the connections.
	if _, err := b.Run(ctx, ingestbench.Scenario{Mode: ingestbench.HTTP, Concurrency: 16, Deliveries: max(o.Deliveries/10, 100), Payload: pushPayload}); err != nil {
		return err
	}
	for _, m := range []struct {
		s   *Spread
		sc  ingestbench.Scenario
		div int // of o.Deliveries: one at a time is slow
	}{
		{&row.IngestC1, ingestbench.Scenario{Mode: ingestbench.HTTP, Concurrency: 1}, 2},
		{&row.IngestC64, ingestbench.Scenario{Mode: ingestbench.HTTP, Concurrency: 64}, 1},
		{&row.RawC64, ingestbench.Scenario{Mode: ingestbench.Direct, Concurrency: 64}, 1},
	} {
		m.sc.Deliveries, m.sc.Payload = o.Deliveries/m.div, pushPayload
		res, err := b.Run(ctx, m.sc)
		if err != nil {
			return err
		}
		m.s.add(res.PerSecond, res.P99)
	}
	return nil
}

// durabilityMarkdown is scenario 7's table.
func durabilityMarkdown(b *strings.Builder, rows []DurabilityRow, rounds int) {
	b.WriteString("\n### 7. Durability: what each `embedded.sync_interval` costs\n\n")
	if len(rows) == 0 {
		b.WriteString("(not run)\n")
		return
	}
	fmt.Fprintf(b, "Median of %d rounds, lowest–highest in brackets; \"vs 2m\" is the median relative to nats-server's own default.\n\n", rounds)
	b.WriteString("| sync_interval | ingest c=1 deliveries/s | p99 | vs 2m | ingest c=64 deliveries/s | p99 | vs 2m | raw JetStream c=64 publishes/s | p99 | vs 2m | dispatcher jobs/s (capacity 64) | vs 2m |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	base := rows[0]
	for _, row := range rows {
		name := row.Sync
		if row.HubDefault {
			name += " (hub default)"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name,
			rate(row.IngestC1), ms(row.IngestC1.MedianP99()), rel(row.IngestC1, base.IngestC1),
			rate(row.IngestC64), ms(row.IngestC64.MedianP99()), rel(row.IngestC64, base.IngestC64),
			rate(row.RawC64), ms(row.RawC64.MedianP99()), rel(row.RawC64, base.RawC64),
			rate(row.Dispatch), rel(row.Dispatch, base.Dispatch))
	}
	b.WriteString("\nEach round starts a fresh embedded server per setting; `always` fsyncs each stored message (and each KV write of the dispatcher's job records and cache) before JetStream acknowledges it, an interval fsyncs in the background.\n")
}

// rate is the median with the spread: "3571 (3402–3690)".
func rate(s Spread) string {
	switch len(s.PerSecond) {
	case 0:
		return "—"
	case 1:
		return fmt.Sprintf("%.0f", s.PerSecond[0])
	}
	return fmt.Sprintf("%.0f (%.0f–%.0f)", s.Median(), slices.Min(s.PerSecond), slices.Max(s.PerSecond))
}

func rel(s, base Spread) string {
	if base.Median() == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", s.Median()/base.Median())
}
