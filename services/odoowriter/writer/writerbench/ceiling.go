package writerbench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
	"github.com/prometheus/client_golang/prometheus"
)

// The ceiling scenario (issue 14): res.partner upserts by ref through the
// writer, against what Odoo itself can do with the same records — one
// create with a list of all of them (its ceiling) and one create call per
// record — on a fake that costs what a real Odoo 19 does
// (odootest.MeasuredOdoo19: one call at a time, 20 ms per call, 0.65 ms
// per record written).

// CeilingOptions describe one measurement; zero values take the defaults.
type CeilingOptions struct {
	Records     int              // partners to upsert; default 2000
	Transport   string           // xmlrpc (default) or json2
	Latency     odootest.Latency // Odoo's cost; default odootest.MeasuredOdoo19
	BatchSize   int              // the writer's batch_size; default the writer's
	Concurrency int              // the writer's concurrency; default the writer's
}

func (o *CeilingOptions) defaults() {
	if o.Records <= 0 {
		o.Records = 2000
	}
	if o.Transport == "" {
		o.Transport = odoo.TransportXMLRPC
	}
	if o.Latency == (odootest.Latency{}) {
		o.Latency = odootest.MeasuredOdoo19
	}
}

// Measure is one timed write of Records records.
type Measure struct {
	Records   int           `json:"records"`
	Duration  time.Duration `json:"duration_ns"`
	PerSecond float64       `json:"records_per_sec"`
	OdooCalls int           `json:"odoo_calls"` // ORM calls Odoo received while timed
	Batches   int           `json:"batches"`    // the writer's batches (its search_reads); 0 for Odoo alone
	// OdooBusy is the share of Duration Odoo spent serving calls (a
	// Serial fake): what is left is Odoo waiting for the client.
	OdooBusy float64 `json:"odoo_busy"`
	// CPUPerRecord is the process's CPU time while timed (the writer, and
	// the nats-server and the fake in the same process) per record.
	CPUPerRecord time.Duration `json:"cpu_per_record_ns"`
	// Idle is where Odoo waited for the client: before its first call,
	// between calls, after its last.
	Idle OdooIdle `json:"odoo_idle"`
	// Calls are the calls Odoo served, in order.
	Calls []Call `json:"-"`
}

// OdooIdle is where a Serial Odoo waited for its client during a run.
type OdooIdle struct {
	Before  time.Duration `json:"before_ns"`  // from the start to its first call
	Between time.Duration `json:"between_ns"` // summed over the gaps between its calls
	After   time.Duration `json:"after_ns"`   // from its last answer to the end
}

// Call is one call Odoo served: its method, records and when it ran,
// from the run's start.
type Call struct {
	Method  string        `json:"method"`
	Records int           `json:"records"`
	Start   time.Duration `json:"start_ns"`
	End     time.Duration `json:"end_ns"`
}

func measured(records int, began time.Time, took time.Duration, calls, batches int, busy time.Duration, served []odootest.ServedCall) Measure {
	m := Measure{Records: records, Duration: took, PerSecond: float64(records) / took.Seconds(), OdooCalls: calls, Batches: batches,
		OdooBusy: busy.Seconds() / took.Seconds()}
	at := began
	for i, c := range served {
		if i == 0 {
			m.Idle.Before = c.Start.Sub(at)
		} else {
			m.Idle.Between += max(0, c.Start.Sub(at))
		}
		at = c.End
		m.Calls = append(m.Calls, Call{Method: c.Method, Records: c.Records, Start: c.Start.Sub(began), End: c.End.Sub(began)})
	}
	if len(served) > 0 {
		m.Idle.After = began.Add(took).Sub(at)
	}
	return m
}

// Timeline prints the calls, one a line.
func (m Measure) Timeline() string {
	var b strings.Builder
	for _, c := range m.Calls {
		fmt.Fprintf(&b, "%8.1f %8.1f ms  %-14s %5d records (%.1f ms)\n", ms(c.Start), ms(c.End), c.Method, c.Records, ms(c.End-c.Start))
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (m Measure) String() string {
	s := fmt.Sprintf("%d records in %s: %.0f records/s, %d Odoo calls, Odoo busy %.0f%%", m.Records, m.Duration.Round(time.Millisecond), m.PerSecond, m.OdooCalls, 100*m.OdooBusy)
	if m.Batches > 0 {
		s += fmt.Sprintf(" (%d batches, %.0f records each)", m.Batches, float64(m.Records)/float64(m.Batches))
	}
	if len(m.Calls) > 0 {
		s += fmt.Sprintf(", Odoo idle %s before, %s between, %s after its calls", m.Idle.Before.Round(time.Millisecond), m.Idle.Between.Round(time.Millisecond), m.Idle.After.Round(time.Millisecond))
	}
	if m.CPUPerRecord > 0 {
		s += fmt.Sprintf(", %s CPU per record", m.CPUPerRecord.Round(time.Microsecond))
	}
	return s
}

// partner is the i-th record every variant writes.
func partner(i int) map[string]any {
	return map[string]any{"ref": fmt.Sprintf("P%07d", i), "name": fmt.Sprintf("Partner %d", i), "email": fmt.Sprintf("p%d@example.com", i), "city": "Liège"}
}

func partnerBody(i int) string {
	p := partner(i)
	return fmt.Sprintf(`{"partner":{"ref":%q,"name":%q,"email":%q,"city":%q}}`, p["ref"], p["name"], p["email"], p["city"])
}

const partnerSubject = "github.partners.upsert"

func partnerRoute() route.Spec {
	return route.Spec{Name: "bench", From: route.From{Stream: events.StreamGitHub, Subjects: []string{"github.partners.*"}},
		Odoo: &route.OdooTarget{Model: "res.partner", Op: route.OpUpsert, Key: &route.Key{Field: "ref", Value: ".partner.ref"},
			Values: map[string]string{"name": ".partner.name", "email": ".partner.email", "city": ".partner.city"}}}
}

// Hub times Records upserts waiting in the stream through a writer that
// starts: from its start (it authenticates, as OdooAlone's cold client
// does) to the last acknowledgement.
func Hub(ctx context.Context, o CeilingOptions) (Measure, error) {
	o.defaults()
	e, err := start(Options{Latency: o.Latency})
	if err != nil {
		return Measure{}, err
	}
	defer e.close()
	if err := e.publishEach(ctx, o.Records, partnerSubject, func(i int) string { return partnerBody(1 + i) }); err != nil {
		return Measure{}, err
	}
	e.fake.ResetCounters()
	cpu := processCPU()
	began := time.Now()
	w := e.startWriter(ctx, o)
	if _, err := e.waitAcked(ctx, uint64(o.Records), began, w.done); err != nil {
		w.stop()
		return Measure{}, err
	}
	took := time.Since(began)
	cpu = processCPU() - cpu
	if err := w.stop(); err != nil {
		return Measure{}, err
	}
	m, err := e.checked(o.Records, o.Records, began, took)
	m.CPUPerRecord = cpu / time.Duration(o.Records)
	return m, err
}

// HubBurst times Records upserts arriving at once at a running writer:
// from the first publish to the last acknowledgement. The writer is warm
// (it has written one partner, so it is authenticated).
func HubBurst(ctx context.Context, o CeilingOptions) (Measure, error) {
	o.defaults()
	e, w, err := startWarm(ctx, o)
	if err != nil {
		return Measure{}, err
	}
	defer e.close()
	defer w.stop()
	e.fake.ResetCounters()
	began := time.Now()
	if err := e.publishEach(ctx, o.Records, partnerSubject, func(i int) string { return partnerBody(1 + i) }); err != nil {
		return Measure{}, err
	}
	if _, err := e.waitAcked(ctx, uint64(o.Records+1), began, w.done); err != nil {
		return Measure{}, err
	}
	took := time.Since(began)
	if err := w.stop(); err != nil {
		return Measure{}, err
	}
	return e.checked(o.Records, o.Records+1, began, took)
}

// checked makes sure Odoo holds one partner per upsert (beside its 3).
func (e *env) checked(records, upserts int, began time.Time, took time.Duration) (Measure, error) {
	if n := e.fake.Count("res.partner"); n != 3+upserts {
		return Measure{}, fmt.Errorf("writerbench: %d partners in Odoo after %d upserts", n, upserts)
	}
	return measured(records, began, took, e.calls(), e.fake.Calls("search_read"), e.fake.Busy(), e.fake.Served()), nil
}

// warmWriter is a writer running until stop.
type warmWriter struct {
	cancel  context.CancelFunc
	done    chan error
	stopped bool
	err     error
}

func (w *warmWriter) stop() error {
	if !w.stopped {
		w.stopped = true
		w.cancel()
		w.err = <-w.done
	}
	return w.err
}

// startWarm starts a fake, a JetStream and a writer of partnerRoute, and
// writes one partner through it.
func startWarm(ctx context.Context, o CeilingOptions) (*env, *warmWriter, error) {
	e, err := start(Options{Latency: o.Latency})
	if err != nil {
		return nil, nil, err
	}
	w := e.startWriter(ctx, o)
	if err := e.publishEach(ctx, 1, partnerSubject, func(int) string { return partnerBody(0) }); err == nil {
		_, err = e.waitAcked(ctx, 1, time.Now(), w.done)
	}
	if err != nil {
		w.stop()
		e.close()
		return nil, nil, err
	}
	return e, w, nil
}

// startWriter runs a writer of partnerRoute until its stop.
func (e *env) startWriter(ctx context.Context, o CeilingOptions) *warmWriter {
	cfg := writer.DefaultConfig()
	cfg.HTTP.Listen = "127.0.0.1:0"
	if o.BatchSize > 0 {
		cfg.BatchSize = o.BatchSize
	}
	cfg.Concurrency = o.Concurrency
	cfg.Odoo = map[string]odoo.Config{"default": e.fake.Config(o.Transport)}
	cfg.CmdRoute.Enabled = false
	cfg.Routes = []route.Spec{partnerRoute()}
	wctx, cancel := context.WithCancel(ctx)
	w := &warmWriter{cancel: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- writer.Run(wctx, service.Deps{Conn: e.hub.Conn, JS: e.hub.JS, Logger: discard(), Registry: prometheus.NewRegistry()}, cfg)
	}()
	return w
}

// OdooAlone times Records creates straight into Odoo, batch records per
// create call (batch ≥ Records: one call, Odoo's ceiling; 1: one call per
// record), from a new client's authentication to the last answer.
func OdooAlone(ctx context.Context, o CeilingOptions, batch int) (Measure, error) {
	o.defaults()
	fake, err := odootest.NewServer(odootest.WithLatency(o.Latency))
	if err != nil {
		return Measure{}, err
	}
	defer fake.Close()
	c, err := odoo.New(fake.Config(o.Transport))
	if err != nil {
		return Measure{}, err
	}
	defer c.CloseIdleConnections()
	batch = max(1, min(batch, o.Records))
	began := time.Now()
	if _, err := c.Authenticate(ctx); err != nil {
		return Measure{}, err
	}
	for from := 0; from < o.Records; from += batch {
		vals := make([]map[string]any, 0, batch)
		for i := from; i < min(from+batch, o.Records); i++ {
			vals = append(vals, partner(1+i))
		}
		if _, err := c.Create(ctx, "res.partner", vals); err != nil {
			return Measure{}, err
		}
	}
	took := time.Since(began)
	return measured(o.Records, began, took, fake.Calls("create"), 0, fake.Busy(), fake.Served()), nil
}

// Idle is the latency of one event at a time through an idle writer:
// from its publish until its record is in Odoo.
type Idle struct {
	Samples int           `json:"samples"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
}

// IdleLatency publishes samples upserts one at a time to a warm writer
// and times each until its partner is in Odoo.
func IdleLatency(ctx context.Context, o CeilingOptions, samples int) (Idle, error) {
	o.defaults()
	e, w, err := startWarm(ctx, o)
	if err != nil {
		return Idle{}, err
	}
	defer e.close()
	defer w.stop()
	lat := make([]time.Duration, 0, samples)
	for i := range samples {
		before := e.fake.Count("res.partner")
		began := time.Now()
		if err := e.publishEach(ctx, 1, partnerSubject, func(int) string { return partnerBody(1 + i) }); err != nil {
			return Idle{}, err
		}
		for e.fake.Count("res.partner") == before {
			if time.Since(began) > 30*time.Second {
				return Idle{}, fmt.Errorf("writerbench: upsert %d not in Odoo after 30s", i)
			}
			time.Sleep(20 * time.Microsecond) // polling the fake for the record, not waiting for a duration
		}
		lat = append(lat, time.Since(began))
	}
	if err := w.stop(); err != nil {
		return Idle{}, err
	}
	slices.Sort(lat)
	return Idle{Samples: len(lat), P50: lat[len(lat)/2], P99: lat[min(len(lat)*99/100, len(lat)-1)], Max: lat[len(lat)-1]}, nil
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
