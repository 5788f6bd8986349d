package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// queueJobJobsPerSecond is queue_job's maintainers' published figure:
// 15,000 jobs in 96.9 s over 3 databases.
const queueJobJobsPerSecond = 155

// Markdown renders the report as the tables docs/performance.md records.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %d cores (%s, %s).\n\n", r.Machine.When.Format("2006-01-02 15:04 UTC"), r.Machine.Cores, r.Machine.OS, r.Machine.Go)
	b.WriteString("### 1. Ingest: signed 7 KB GitHub `push` deliveries over HTTP vs raw JetStream publishes\n\n")
	b.WriteString("| concurrency | ingester deliveries/s | p50 | p99 | raw JetStream publishes/s | p50 | p99 | ratio ingester/raw (target ≥ 0.5 at 64) | no-op HTTP requests/s | floor (HTTP + publish) | ingester/floor |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.Ingest {
		fmt.Fprintf(&b, "| %d | %.0f | %s | %s | %.0f | %s | %s | %.2f | %.0f | %.0f | %.2f |\n", row.Concurrency, row.HTTP.PerSecond, ms(row.HTTP.P50), ms(row.HTTP.P99),
			row.Direct.PerSecond, ms(row.Direct.P50), ms(row.Direct.P99), row.Ratio, row.Noop.PerSecond, row.Floor, row.FloorRatio)
	}
	b.WriteString("\nThe floor is what an ingester doing nothing but receive the request (no-op HTTP handler, same client, same requests) and publish it (raw JetStream) could reach here: 1/(1/no-op + 1/raw). Client, server and NATS share the same cores.\n")
	writerMarkdown(&b, r.Writer)
	d := r.Dispatch
	b.WriteString("\n### 3. Dispatcher: jobs to a no-op HTTP service at capacity 64\n\n")
	b.WriteString("| what | per second | ratio |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| dispatcher, %d jobs | %.0f jobs/s | %.2f of the plain loop (target ≥ 0.5); %.0f× queue_job |\n", d.Jobs, d.Dispatcher.PerSecond, d.Ratio, d.Dispatcher.PerSecond/queueJobJobsPerSecond)
	fmt.Fprintf(&b, "| plain Go HTTP client loop, 64 goroutines | %.0f calls/s | 1 |\n", d.PlainHTTP.PerSecond)
	fmt.Fprintf(&b, "| queue_job (published: 15,000 jobs in 96.9 s) | %d jobs/s | — |\n", queueJobJobsPerSecond)
	fmt.Fprintf(&b, "| dispatcher while a second, always-failing service's jobs run | %.0f jobs/s | %.0f%% drop (target < 10%%) |\n", d.WithFailing.PerSecond, 100*d.Drop)
	b.WriteString("\n### 4. End to end: webhook in → Odoo fake written (no fake latency), one delivery at a time\n\n")
	b.WriteString("| writer linger | samples | p50 | p99 | max |\n|---|---|---|---|---|\n")
	for _, e := range []Latency{r.EndToEnd, r.EndToEndNoLinger} {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", e.Linger, e.Samples, ms(e.P50), ms(e.P99), ms(e.Max))
	}
	b.WriteString("\n### 5. Memory of `hub run` (resident set size)\n\n")
	if m := r.Memory; m != nil {
		fmt.Fprintf(&b, "| idle | after %d deliveries at concurrency 64 |\n|---|---|\n| %s | %s |\n", m.Deliveries, mib(m.Idle), mib(m.AfterIngest))
	} else {
		b.WriteString("(skipped: no hub binary)\n")
	}
	b.WriteString("\n### 6. Scale curve (fresh server per size; RSS of the bench process after each)\n\n")
	b.WriteString("| events | ingest deliveries/s (c=64) | RSS | dispatcher jobs/s (capacity 64) | RSS |\n|---|---|---|---|---|\n")
	for _, s := range r.Scale {
		fmt.Fprintf(&b, "| %d | %.0f | %s | %.0f | %s |\n", s.N, s.IngestPerSec, mib(s.IngestRSS), s.DispatchPerSec, mib(s.DispatchRSS))
	}
	durabilityMarkdown(&b, r.Durability, r.Rounds)
	tracingMarkdown(&b, r.Tracing, r.Rounds)
	jobsPeersMarkdown(&b, r.JobsPeers)
	ingestPeersMarkdown(&b, r.Peers)
	g := r.Graph
	b.WriteString("\n### 11. Job graph: a fan-out/fan-in graph (a root, its children, a sink after all of them) to a no-op HTTP service at capacity 64\n\n")
	b.WriteString("| what | nodes | time | per second | ratio |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| graph, enqueue to the sink's result | %d | %s | %.0f nodes/s | %.2f of the flat jobs |\n", g.Nodes, ms(g.Graph.Elapsed), g.Graph.PerSecond, g.Ratio)
	fmt.Fprintf(&b, "| the same number of independent jobs | %d | %s | %.0f jobs/s | 1 |\n", g.Nodes, ms(g.Flat.Elapsed), g.Flat.PerSecond)
	return onlySections(b.String(), r.Only)
}

// onlySections drops the tables of the scenarios a --only run skipped.
func onlySections(md string, only []int) string {
	if len(only) == 0 {
		return md
	}
	parts := strings.Split(md, "\n### ")
	out := parts[:1]
	for _, p := range parts[1:] {
		n, _, _ := strings.Cut(p, ".")
		if k, err := strconv.Atoi(n); err == nil && slices.Contains(only, k) {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n### ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
