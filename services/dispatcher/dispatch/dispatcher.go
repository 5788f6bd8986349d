package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/supervise"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/dispatcher/cache"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/graph"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Dispatcher is a running dispatcher: its services, buckets, consume
// loops and HTTP server.
type Dispatcher struct {
	cfg      Config
	js       jetstream.JetStream
	log      *slog.Logger
	channels map[string]*channel.Channel
	store    *jobstate.Store
	cache    *cache.Cache
	graphs   *graph.Engine
	metrics  *metrics
	loops    []*consume.Loop
	srv      *service.Server
}

// New checks cfg, ensures the jobs and results buckets and every
// consumer (one per dispatch route, one per service for its jobs), and
// binds the HTTP listener. Run must follow: it owns the listener.
func New(ctx context.Context, deps service.Deps, cfg Config) (*Dispatcher, error) {
	if err := cfg.Validate("dispatcher").Err(); err != nil {
		return nil, err
	}
	d := &Dispatcher{cfg: cfg, js: deps.JS, log: deps.Logger, channels: map[string]*channel.Channel{}}
	if d.log == nil {
		d.log = slog.Default()
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	d.metrics = newMetrics(reg)
	routeMetrics := consume.NewMetrics(reg)
	for name, sc := range cfg.Services {
		d.channels[name] = channel.New(name, sc, channel.Options{SlotWait: cfg.SlotWait, OnStateChange: d.onBreaker})
		d.metrics.service(name)
	}
	var err error
	if d.store, err = jobstate.Open(ctx, deps.JS, deps.Streams, cfg.JobRetention); err != nil {
		return nil, err
	}
	if d.cache, err = cache.Open(ctx, deps.JS, deps.Streams, cfg.ResultTTL); err != nil {
		return nil, err
	}
	if d.graphs, err = graph.Open(ctx, deps.JS, graph.Options{Config: cfg.Graphs, Services: func(s string) bool { _, ok := cfg.Services[s]; return ok },
		Store: d.store, Cache: d.cache, Streams: deps.Streams, Retention: cfg.JobRetention, Logger: d.log, BeforeStart: cfg.graphBeforeStart}); err != nil {
		return nil, err
	}
	gl, err := d.graphLoop(ctx, routeMetrics)
	if err != nil {
		return nil, err
	}
	d.loops = append(d.loops, gl)
	for _, spec := range cfg.dispatchRoutes() {
		l, err := d.routeLoop(ctx, spec, routeMetrics)
		if err != nil {
			return nil, err
		}
		d.loops = append(d.loops, l)
	}
	for _, name := range cfg.serviceNames() {
		l, err := d.jobLoop(ctx, d.channels[name], routeMetrics)
		if err != nil {
			return nil, err
		}
		d.loops = append(d.loops, l)
	}
	d.srv = d.server(deps, reg)
	if err := d.srv.Listen(); err != nil {
		return nil, err
	}
	return d, nil
}

// onBreaker runs under a breaker's lock: it only logs and sets the gauge.
func (d *Dispatcher) onBreaker(service string, from, to wire.BreakerState) {
	d.metrics.breakerState(service, to)
	level := slog.LevelInfo
	if to == wire.BreakerOpen {
		level = slog.LevelWarn
	}
	d.log.Log(context.Background(), level, "circuit breaker "+string(to), "target", service, "from", string(from), "to", string(to))
}

func (d *Dispatcher) routeLoop(ctx context.Context, spec route.Spec, rm *consume.Metrics) (*consume.Loop, error) {
	ch := d.channels[spec.Dispatch.Service]
	h, err := d.routeHandler(spec, ch)
	if err != nil {
		return nil, err
	}
	if _, err := stream.EnsureConsumer(ctx, d.js, spec.ConsumerOptions()); err != nil {
		return nil, fmt.Errorf("route %s: %w", spec.Name, err)
	}
	policy := retryPolicy(spec.Retry, ch.Config().Retry)
	concurrency := spec.Concurrency
	if concurrency == 0 {
		concurrency = ch.Capacity()
	}
	return &consume.Loop{JS: d.js, Stream: spec.From.Stream, Consumer: spec.Name, Concurrency: concurrency,
		Handler:       consume.Chain(h, consume.Standard(d.log, rm, consume.DeadLetter{JS: d.js}, policy)...),
		ShutdownGrace: d.cfg.ShutdownGrace, PollWait: d.cfg.pollWait, Logger: d.log, Pause: d.pause(ch)}, nil
}

// pause is consume.Loop.Pause for the loops calling ch: they pull nothing
// while its breaker is open, rather than pull messages only to hand them
// back with a delay.
func (d *Dispatcher) pause(ch *channel.Channel) func() time.Duration {
	paused := d.metrics.paused.WithLabelValues(ch.Name())
	return func() time.Duration {
		p := ch.Paused()
		if p > 0 {
			paused.Add(p.Seconds())
		}
		return p
	}
}

func (d *Dispatcher) jobLoop(ctx context.Context, ch *channel.Channel, rm *consume.Metrics) (*consume.Loop, error) {
	name := jobs.ConsumerName(ch.Name())
	opts := stream.ConsumerOptions{Name: name, Stream: events.StreamJobs, Subjects: []string{jobs.ConsumerFilter(ch.Name())},
		Description: "Pulse Hub dispatcher: jobs for service " + ch.Name(), MaxAckPending: max(1000, 2*ch.Capacity())}
	if _, err := stream.EnsureConsumer(ctx, d.js, opts); err != nil {
		return nil, fmt.Errorf("jobs of service %s: %w", ch.Name(), err)
	}
	jc := &jobConsumer{name: name, read: d.metrics.records.WithLabelValues(ch.Name(), "read"),
		skipped: d.metrics.records.WithLabelValues(ch.Name(), "skipped")}
	return &consume.Loop{JS: d.js, Stream: events.StreamJobs, Consumer: name, Concurrency: ch.Capacity(),
		Handler: d.jobHandler(ch, jc, rm), ShutdownGrace: d.cfg.ShutdownGrace, PollWait: d.cfg.pollWait, Logger: d.log, Pause: d.pause(ch),
		FetchCooldown: jobFetchCooldown, Bound: func(info jetstream.ConsumerInfo) { jc.created.Store(info.Created.UnixNano()) }}, nil
}

// graphLoop reads job graphs (jobs.graph.<name>) with consumer jobs-graph:
// a graph that fails its checks is dead-lettered with nothing enqueued.
func (d *Dispatcher) graphLoop(ctx context.Context, rm *consume.Metrics) (*consume.Loop, error) {
	opts := stream.ConsumerOptions{Name: graph.ConsumerName, Stream: events.StreamJobs, Subjects: []string{graph.ConsumerFilter},
		Description: "Pulse Hub dispatcher: job graphs"}
	if _, err := stream.EnsureConsumer(ctx, d.js, opts); err != nil {
		return nil, fmt.Errorf("job graphs: %w", err)
	}
	policy := retryPolicy(route.Retry{}, route.Retry{}) // the defaults: a graph's steps fail only while JetStream does
	return &consume.Loop{JS: d.js, Stream: events.StreamJobs, Consumer: graph.ConsumerName, Concurrency: 2,
		Handler:       consume.Chain(d.graphs.Submit, consume.Standard(d.log, rm, consume.DeadLetter{JS: d.js}, policy)...),
		ShutdownGrace: d.cfg.ShutdownGrace, PollWait: d.cfg.pollWait, Logger: d.log}, nil
}

// Run serves HTTP and runs every consume loop (with its replay loop, see
// consume.RunRoute) until ctx is done, then waits for them to hand back
// or finish their messages. They are tasks of one supervisor: a loop or
// server that fails, or stops while the dispatcher runs, stops the others
// and its error is returned.
func (d *Dispatcher) Run(ctx context.Context) error {
	g := supervise.New(ctx)
	d.srv.AddCheck("tasks", g.Check)
	g.GoLast("http", d.srv.Run)
	for _, l := range d.loops {
		g.Go("consumer "+l.Consumer, func(ctx context.Context) error { return consume.RunRoute(ctx, l) })
	}
	d.log.Info("dispatcher running", "services", len(d.channels), "routes", len(d.cfg.dispatchRoutes()), "http", d.srv.Addr())
	return g.Wait()
}

// Addr is the HTTP server's bound address.
func (d *Dispatcher) Addr() string { return d.srv.Addr() }

// Breakers reports every service's channel, sorted by name.
func (d *Dispatcher) Breakers() []wire.Breaker {
	out := make([]wire.Breaker, 0, len(d.channels))
	for _, c := range d.channels {
		out = append(out, c.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// jobFetchCooldown spaces the job loops' pulls while jobs flow, so that
// one pull fetches for every worker freed meanwhile (consume.Loop.FetchCooldown):
// River's benchmark setting, a delay of at most 2 ms for a job that
// arrives while the workers are busy.
const jobFetchCooldown = 2 * time.Millisecond

// jobWriteTimeout bounds a job-state write made after ctx ended (a
// shutdown mid-call).
const jobWriteTimeout = 2 * time.Second
