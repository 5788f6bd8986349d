// Package writerbench is the Odoo writer's throughput scenario: events
// stored in a real JetStream (an in-process nats-server), written by the
// writer into the fake Odoo (odootest) that costs a realistic time per
// call, batched or one call per event. The Go benchmark runs it, and so
// can the bench program (bench/, issue #9).
package writerbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Options describe one run; zero values take the defaults.
type Options struct {
	Events      int              // events to write; default 5000
	BatchSize   int              // the writer's batch_size; default the writer's (1 = one call per event)
	Concurrency int              // messages in flight; default the writer's (2 × batch_size), 16 for batch_size 1
	Op          string           // the route's op: upsert (default: a search_read and a create per batch) or create (one load per batch)
	Latency     odootest.Latency // Odoo's cost; default 5ms per call plus 0.1ms per record
	Transport   string           // xmlrpc (default) or json2
	Logger      *slog.Logger     // default: discard
}

// DefaultLatency is the cost per call the scenario gives the fake Odoo: a
// round trip and a transaction, plus the ORM's work per record.
var DefaultLatency = odootest.Latency{PerCall: 5 * time.Millisecond, PerRecord: 100 * time.Microsecond}

func (o *Options) defaults() {
	if o.Events <= 0 {
		o.Events = 5000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = writer.DefaultBatchSize
	}
	if o.Concurrency <= 0 && o.BatchSize == 1 {
		o.Concurrency = 16
	}
	if o.Op == "" {
		o.Op = route.OpUpsert
	}
	if o.Latency == (odootest.Latency{}) {
		o.Latency = DefaultLatency
	}
	if o.Transport == "" {
		o.Transport = odoo.TransportXMLRPC
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
}

// Result is what one run measured.
type Result struct {
	Options       Options
	Duration      time.Duration // from the writer's start to the last event acknowledged
	RecordsPerSec float64
	OdooCalls     int // ORM calls the fake received (fields_get included)
	MaxInFlight   int // the most calls Odoo had in flight at once
}

func (r Result) String() string {
	return fmt.Sprintf("%d events, op %s, batch_size %d, concurrency %d: %s, %.0f records/s, %d Odoo calls, at most %d at once",
		r.Options.Events, r.Options.Op, r.Options.BatchSize, r.Options.Concurrency, r.Duration.Round(time.Millisecond), r.RecordsPerSec,
		r.OdooCalls, r.MaxInFlight)
}

// Run publishes the events, then runs a writer until every one is
// acknowledged, and checks that Odoo holds one record per event.
func Run(ctx context.Context, o Options) (Result, error) {
	o.defaults()
	env, err := start(o)
	if err != nil {
		return Result{}, err
	}
	defer env.close()
	if err := env.publish(ctx, o.Events); err != nil {
		return Result{}, err
	}
	env.fake.ResetCounters()
	took, err := env.runWriter(ctx, o)
	if err != nil {
		return Result{}, err
	}
	if n := env.fake.Count("project.task"); n != o.Events {
		return Result{}, fmt.Errorf("writerbench: %d tasks in Odoo after %d events", n, o.Events)
	}
	return Result{Options: o, Duration: took, RecordsPerSec: float64(o.Events) / took.Seconds(), OdooCalls: env.calls(),
		MaxInFlight: env.fake.MaxConcurrent()}, nil
}

// Compare runs the scenario batched (base's batch size) and with one call
// per event, and returns both results and the speed-up.
func Compare(ctx context.Context, base Options) (batched, single Result, ratio float64, err error) {
	if batched, err = Run(ctx, base); err != nil {
		return
	}
	one := base
	one.BatchSize, one.Concurrency = 1, 0
	if single, err = Run(ctx, one); err != nil {
		return
	}
	return batched, single, batched.RecordsPerSec / single.RecordsPerSec, nil
}

// env is a nats-server and a fake Odoo for one run.
type env struct {
	dir  string
	hub  *natstest.Hub // the nats-server, a connection and the hub's streams
	fake *odootest.Server
}

func start(o Options) (*env, error) {
	dir, err := os.MkdirTemp("", "writerbench-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir}
	if e.hub, err = natstest.StartHub(dir); err != nil {
		e.close()
		return nil, fmt.Errorf("writerbench: %w", err)
	}
	if e.fake, err = odootest.NewServer(odootest.WithLatency(o.Latency)); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *env) close() {
	if e.hub != nil {
		e.hub.Close()
	}
	if e.fake != nil {
		e.fake.Close()
	}
	_ = os.RemoveAll(e.dir)
}

// publish stores n issues.opened events, one issue each, asynchronously.
func (e *env) publish(ctx context.Context, n int) error {
	return e.publishEach(ctx, n, "github.issues.opened", func(i int) string {
		return fmt.Sprintf(`{"action":"opened","issue":{"id":%d,"number":%d,"title":"Issue %d","body":"Found by the bench."}}`, 100000+i, i+1, i)
	})
}

// publishEach stores n events on subject, body(i) each, asynchronously,
// and waits for every acknowledgement.
func (e *env) publishEach(ctx context.Context, n int, subject string, body func(i int) string) error {
	futures := make([]jetstream.PubAckFuture, 0, n)
	for i := range n {
		ev := events.New(ctx, "writerbench", "com.github.issues.opened", []byte(body(i)))
		f, err := e.hub.JS.PublishMsgAsync(ev.Msg(subject))
		if err != nil {
			return fmt.Errorf("writerbench: publish: %w", err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("writerbench: publish: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// runWriter runs a writer on the route until the route's consumer has
// acknowledged every event, and returns how long that took.
func (e *env) runWriter(ctx context.Context, o Options) (time.Duration, error) {
	cfg := writer.DefaultConfig()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.BatchSize, cfg.Concurrency = o.BatchSize, o.Concurrency
	cfg.Odoo = map[string]odoo.Config{"default": e.fake.Config(o.Transport)}
	cfg.CmdRoute.Enabled = false
	cfg.Routes = []route.Spec{benchRoute(o.Op)}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	began := time.Now()
	go func() {
		done <- writer.Run(wctx, service.Deps{Conn: e.hub.Conn, JS: e.hub.JS, Logger: o.Logger, Registry: prometheus.NewRegistry()}, cfg)
	}()
	took, err := e.waitAcked(ctx, uint64(o.Events), began, done)
	cancel()
	if werr := <-done; err == nil && werr != nil {
		err = werr
	}
	return took, err
}

func benchRoute(op string) route.Spec {
	t := &route.OdooTarget{Model: "project.task", Op: op,
		Values: map[string]string{"name": ".issue.title", "description": ".issue.body", "sequence": ".issue.number"}}
	if op == route.OpUpsert {
		t.Key = &route.Key{Field: "x_github_issue_id", Value: ".issue.id"}
	} else {
		t.Values["x_github_issue_id"] = ".issue.id"
	}
	return route.Spec{Name: "bench", From: route.From{Stream: events.StreamGitHub, Subjects: []string{"github.issues.*"}}, Odoo: t}
}

// waitAcked polls the route's consumer until its ack floor reaches n.
func (e *env) waitAcked(ctx context.Context, n uint64, began time.Time, done <-chan error) (time.Duration, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case err := <-done:
			return 0, fmt.Errorf("writerbench: the writer stopped early: %v", err)
		case <-tick.C:
		}
		c, err := e.hub.JS.Consumer(ctx, events.StreamGitHub, "bench")
		if err != nil {
			continue // not created yet
		}
		info, err := c.Info(ctx)
		if err == nil && info.AckFloor.Stream >= n && info.NumAckPending == 0 {
			return time.Since(began), nil
		}
	}
}

// calls counts the ORM calls the fake received.
func (e *env) calls() int {
	n := 0
	for _, m := range []string{"search_read", "create", "write", "load", "fields_get", "search", "unlink"} {
		n += e.fake.Calls(m)
	}
	return n
}
