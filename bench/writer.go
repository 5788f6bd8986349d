package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer/writerbench"
)

// Scenario 2 (issue 14): the writer against Odoo's own ceiling, on the
// fake costing what a real Odoo 19 does (odootest.MeasuredOdoo19: one
// call at a time, 20 ms per call + 0.65 ms per record written).

// writerRecords is the 2,000 upserts (fewer in a quick run).
const writerRecords = 2000

// curveBatches are the batch sizes of the records/s curve.
var curveBatches = []int{1, 10, 50, 100, 200, 500, 1000, 2000}

// WriterRow is scenario 2.
type WriterRow struct {
	Records   int                      `json:"records"`
	Rounds    int                      `json:"rounds"`
	Protocols []WriterProtocol         `json:"protocols"`
	Curve     []CurvePoint             `json:"curve"`
	Idle      writerbench.Idle         `json:"idle"`          // one upsert at a time, Odoo costing nothing: the hub's own latency
	IdleOdoo  writerbench.Idle         `json:"idle_modelled"` // the same on the modelled Odoo (its floor: a search_read and a create, ~41 ms)
	Latency   odootest.Latency         `json:"odoo_cost"`
	Burst     map[string][]float64     `json:"burst_records_per_sec"` // Records arriving at once at a running writer, per transport and round
	Rates     map[string]WriterMedians `json:"medians"`
}

// WriterProtocol is one transport's rounds.
type WriterProtocol struct {
	Transport string                `json:"transport"`
	Hub       []writerbench.Measure `json:"hub"`     // Records upserts waiting in the stream, the writer starting
	Ceiling   []writerbench.Measure `json:"ceiling"` // one create of Records, a new client
	OneByOne  writerbench.Measure   `json:"one_call_per_record"`
}

// WriterMedians are one transport's medians.
type WriterMedians struct {
	Hub, Ceiling, Burst, OneByOne float64
	Ratio                         float64 // hub / ceiling (median of the rounds' ratios)
	BurstRatio                    float64
	Speedup                       float64 // hub / one call per record
}

// CurvePoint is records/s at one batch size: Odoo alone (creates of
// Batch records per call) and the writer with batch_size Batch.
type CurvePoint struct {
	Transport string              `json:"transport"`
	Batch     int                 `json:"batch"`
	Odoo      writerbench.Measure `json:"odoo"`
	Hub       writerbench.Measure `json:"hub"`
}

func runWriter(ctx context.Context, o Options, r *Report) error {
	records := min(o.Events, writerRecords)
	w := WriterRow{Records: records, Rounds: o.Rounds, Latency: odootest.MeasuredOdoo19, Burst: map[string][]float64{}, Rates: map[string]WriterMedians{}}
	transports := []string{odoo.TransportXMLRPC, odoo.TransportJSON2}
	w.Protocols = make([]WriterProtocol, len(transports))
	for round := range o.Rounds {
		for i, tr := range transports { // alternating: hub, ceiling, burst, per transport, per round
			p := &w.Protocols[i]
			p.Transport = tr
			opts := writerbench.CeilingOptions{Records: records, Transport: tr}
			hub, err := writerbench.Hub(ctx, opts)
			if err != nil {
				return fmt.Errorf("writer %s: %w", tr, err)
			}
			ceiling, err := writerbench.OdooAlone(ctx, opts, records)
			if err != nil {
				return fmt.Errorf("ceiling %s: %w", tr, err)
			}
			burst, err := writerbench.HubBurst(ctx, opts)
			if err != nil {
				return fmt.Errorf("writer burst %s: %w", tr, err)
			}
			p.Hub, p.Ceiling = append(p.Hub, hub), append(p.Ceiling, ceiling)
			w.Burst[tr] = append(w.Burst[tr], burst.PerSecond)
			fmt.Fprintf(o.Log, "  round %d %s: hub %s; ceiling %s; burst %s\n  the hub's calls (start, end from the writer's start):\n%s", round+1, tr, hub, ceiling, burst, indent(hub.Timeline(), "    "))
		}
	}
	for i, tr := range transports {
		p := &w.Protocols[i]
		var err error
		if p.OneByOne, err = writerbench.OdooAlone(ctx, writerbench.CeilingOptions{Records: min(records, 50), Transport: tr}, 1); err != nil {
			return err
		}
		fmt.Fprintf(o.Log, "  %s one call per record: %s\n", tr, p.OneByOne)
		w.Rates[tr] = p.medians(w.Burst[tr])
	}
	if err := w.curve(ctx, o, records, transports); err != nil {
		return err
	}
	samples := max(5, min(o.Latency, 200))
	var err error
	if w.Idle, err = writerbench.IdleLatency(ctx, writerbench.CeilingOptions{Latency: odootest.Latency{PerCall: 1}}, samples); err != nil {
		return err
	}
	if w.IdleOdoo, err = writerbench.IdleLatency(ctx, writerbench.CeilingOptions{}, max(5, samples/5)); err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "  idle: p50 %s p99 %s (Odoo costing nothing); p50 %s p99 %s (modelled Odoo)\n", ms(w.Idle.P50), ms(w.Idle.P99), ms(w.IdleOdoo.P50), ms(w.IdleOdoo.P99))
	r.Writer = w
	return nil
}

func (w *WriterRow) curve(ctx context.Context, o Options, records int, transports []string) error {
	for _, tr := range transports {
		for _, b := range curveBatches {
			if b > records {
				break
			}
			n := min(records, max(100, 10*b))
			opts := writerbench.CeilingOptions{Records: n, Transport: tr, BatchSize: b}
			alone, err := writerbench.OdooAlone(ctx, opts, b)
			if err != nil {
				return err
			}
			if b == 1 {
				opts.Concurrency = 16 // one call per event: a few in flight, as the old baseline
			}
			hub, err := writerbench.Hub(ctx, opts)
			if err != nil {
				return fmt.Errorf("curve %s batch %d: %w", tr, b, err)
			}
			w.Curve = append(w.Curve, CurvePoint{Transport: tr, Batch: b, Odoo: alone, Hub: hub})
			fmt.Fprintf(o.Log, "  curve %s batch %d: Odoo alone %.0f/s, hub %.0f/s\n", tr, b, alone.PerSecond, hub.PerSecond)
		}
	}
	return nil
}

// medianRound is the round whose hub/ceiling ratio is the median.
func (p WriterProtocol) medianRound() int {
	idx := make([]int, len(p.Hub))
	for i := range idx {
		idx[i] = i
	}
	ratio := func(i int) float64 { return p.Hub[i].PerSecond / p.Ceiling[i].PerSecond }
	slices.SortFunc(idx, func(x, y int) int { return cmp.Compare(ratio(x), ratio(y)) })
	return idx[len(idx)/2]
}

// upsertBound is the best hub/ceiling ratio of records upserts in batches
// on Odoo costing l, nothing else taking time: the ceiling is an
// authentication and one create; the hub an authentication, and a
// search_read (finding nothing) and a create per batch.
func upsertBound(l odootest.Latency, records, batches int) float64 {
	work := time.Duration(records) * l.PerRecord
	ceiling := 2*l.PerCall + work
	hub := l.PerCall + time.Duration(2*max(batches, 1))*l.PerCall + work
	return ceiling.Seconds() / hub.Seconds()
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

func (p WriterProtocol) medians(burst []float64) WriterMedians {
	var hub, ceiling, ratios []float64
	for i := range p.Hub {
		hub = append(hub, p.Hub[i].PerSecond)
		ceiling = append(ceiling, p.Ceiling[i].PerSecond)
		ratios = append(ratios, p.Hub[i].PerSecond/p.Ceiling[i].PerSecond)
	}
	m := WriterMedians{Hub: median(hub), Ceiling: median(ceiling), Burst: median(burst), OneByOne: p.OneByOne.PerSecond, Ratio: median(ratios)}
	m.BurstRatio = m.Burst / m.Ceiling
	m.Speedup = m.Hub / m.OneByOne
	return m
}

// writerMarkdown renders scenario 2.
func writerMarkdown(b *strings.Builder, w WriterRow) {
	l := w.Latency
	fmt.Fprintf(b, "\n### 2. Writer vs Odoo's ceiling: %d res.partner upserts on the fake costing what Odoo 19 does (%s per call + %s per record written, %s per record read, one call at a time)\n\n",
		w.Records, l.PerCall, l.PerRecord, l.PerRead)
	fmt.Fprintf(b, "Medians of %d alternating rounds. Hub: the upserts wait in the stream and the writer starts (it authenticates); ceiling: a new client authenticates and sends one `create` with a list of all of them; burst: they arrive at once at a running writer (timed from the first publish).\n\n", w.Rounds)
	b.WriteString("| transport | hub records/s | Odoo's ceiling records/s | hub/ceiling (target ≥ 0.9) | burst records/s | burst/ceiling | one call per record | hub/one-by-one | hub batches (calls) | bound of that many batches | Odoo idle in the hub's run: before / between / after its calls |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range w.Protocols {
		m := w.Rates[p.Transport]
		mid := p.Hub[p.medianRound()]
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.0f | %.1f× | %d (%d) | %.3f | %s / %s / %s |\n", p.Transport, m.Hub, m.Ceiling, m.Ratio, m.Burst, m.BurstRatio, m.OneByOne, m.Speedup,
			mid.Batches, mid.OdooCalls, upsertBound(w.Latency, w.Records, mid.Batches), ms(mid.Idle.Before), ms(mid.Idle.Between), ms(mid.Idle.After))
	}
	fmt.Fprintf(b, "\nThe bound: what the model charges Odoo for the ceiling (an authentication, one `create` of %d) over what it charges for the hub's upserts in that many batches (an authentication, a `search_read` and a `create` per batch; the searches find nothing), with no time lost anywhere else: 1 batch %.3f, 2 batches %.3f, 3 batches %.3f. Odoo idle: from the writer's start to Odoo's first call, summed between its calls, and from its last answer to the last acknowledgement (the round with the median ratio).\n",
		w.Records, upsertBound(w.Latency, w.Records, 1), upsertBound(w.Latency, w.Records, 2), upsertBound(w.Latency, w.Records, 3))
	b.WriteString("\nRecords/s vs batch size (Odoo alone: creates of that many records per call; hub: the writer with that batch_size, upserts):\n\n| transport | batch | records | Odoo alone records/s | hub records/s | hub/Odoo alone |\n|---|---|---|---|---|---|\n")
	for _, c := range w.Curve {
		fmt.Fprintf(b, "| %s | %d | %d | %.0f | %.0f | %.2f |\n", c.Transport, c.Batch, c.Odoo.Records, c.Odoo.PerSecond, c.Hub.PerSecond, c.Hub.PerSecond/c.Odoo.PerSecond)
	}
	b.WriteString("\nIdle latency, one upsert at a time, publish → record in Odoo:\n\n| Odoo | samples | p50 | p99 | max |\n|---|---|---|---|---|\n")
	fmt.Fprintf(b, "| costing nothing (the hub's own latency; target p50 ≤ 5 ms) | %d | %s | %s | %s |\n", w.Idle.Samples, ms(w.Idle.P50), ms(w.Idle.P99), ms(w.Idle.Max))
	fmt.Fprintf(b, "| modelled Odoo 19 (floor: a search_read and a create, ~41 ms) | %d | %s | %s | %s |\n", w.IdleOdoo.Samples, ms(w.IdleOdoo.P50), ms(w.IdleOdoo.P99), ms(w.IdleOdoo.Max))
}
