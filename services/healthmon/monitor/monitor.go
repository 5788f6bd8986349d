// Package monitor is Pulse Hub's health monitor: it probes Odoo, the
// microservices, NATS and JetStream, every route's consumer and the hub's
// own services, concurrently and each with its own timeout; decides each
// target's status with hysteresis; keeps it in KV bucket health, publishes
// every transition on health.<target>.<status>; and serves a status page
// (GET /), its data (GET /status.json), the aggregate (GET /health) and
// Prometheus gauges (GET /metrics).
package monitor

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events/lease"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/supervise"
	"github.com/insightpulse/pulsehub/services/healthmon/console"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
	"github.com/insightpulse/pulsehub/services/healthmon/probe"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/insightpulse/pulsehub/services/healthmon/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Monitor runs the probes and keeps what they found.
type Monitor struct {
	cfg         Config
	deps        service.Deps
	log         *slog.Logger
	clock       probe.Clock
	client      *http.Client
	store       *store.Store
	tracker     *status.Tracker
	metrics     *metrics
	advisories  *probe.Advisories
	srv         *service.Server
	jobs        []*job
	console     *console.Console // nil unless cfg.Console.Enabled
	consoleOpts []console.Option
	listening   bool
	leases      *lease.Metrics

	// publishing is true while this replica writes the bucket and
	// publishes transitions: always without Run (RunOnce), under the
	// publisher lease with it.
	publishing atomic.Bool

	mu      sync.Mutex
	targets map[string]*target            // by target name
	unsent  map[string][]store.Transition // transitions not published yet, oldest first
	known   map[string]store.Record       // each target's value in the bucket as this replica last read or wrote it
	history map[string][]page.Sample      // each route's ack floor over the last HistoryWindow (history.go)
}

// target is what the monitor knows of one target.
type target struct {
	kind   string
	record store.Record // zero CheckedAt: not probed since start
	seen   status.Status
	result probe.Result
}

// Option tunes a Monitor (tests).
type Option func(*Monitor)

// WithClock sets the clock probes time themselves with and records are
// stamped with.
func WithClock(now func() time.Time) Option { return func(m *Monitor) { m.clock = now } }

// WithProbes adds probes beside those the config describes.
func WithProbes(ps ...probe.Probe) Option {
	return func(m *Monitor) {
		for _, p := range ps {
			m.jobs = append(m.jobs, &job{probe: p, interval: m.cfg.Interval, timeout: m.cfg.Timeout})
		}
	}
}

// WithConsoleOptions passes options to the console (tests, job graphs).
func WithConsoleOptions(opts ...console.Option) Option {
	return func(m *Monitor) { m.consoleOpts = append(m.consoleOpts, opts...) }
}

// New builds a monitor from cfg: its probes, metrics (on deps.Registry)
// and HTTP server. It does not contact anything.
func New(deps service.Deps, cfg Config, opts ...Option) (*Monitor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate("healthmon").Err(); err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	met, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, err
	}
	m := &Monitor{cfg: cfg, deps: deps, log: deps.Logger, tracker: status.NewTracker(cfg.Consecutive), metrics: met,
		client:  &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		targets: map[string]*target{}, unsent: map[string][]store.Transition{}, known: map[string]store.Record{}}
	m.publishing.Store(true)
	m.leases = lease.NewMetrics(deps.Registry)
	m.advisories = &probe.Advisories{OnAdvisory: func(stream, consumer string) {
		met.advisories.WithLabelValues(stream, consumer).Inc()
	}}
	if deps.JS != nil {
		m.store = store.New(deps.JS, deps.Streams)
	}
	for _, o := range opts {
		if o != nil {
			o(m)
		}
	}
	m.jobs = append(m.buildJobs(), m.jobs...)
	for _, j := range m.jobs {
		for _, t := range j.fixed {
			m.targets[t.name] = &target{kind: t.kind, record: store.Record{Target: t.name, Kind: t.kind, Status: status.Unknown}}
			met.unknown(t.name, t.kind)
		}
	}
	m.srv = service.NewServer(cfg.HTTP, m.log, deps.Registry)
	m.srv.HandleHealth(http.HandlerFunc(m.serveHealth))
	m.srv.Handle("GET /{$}", http.HandlerFunc(m.servePage))
	m.srv.Handle("GET /status.json", http.HandlerFunc(m.serveStatus))
	if cfg.Console.Enabled {
		c, err := console.New(deps.JS, m, m.log.With("component", "console"), cfg.Console, cfg.HTTP.TLSCertFile != "", m.consoleOpts...)
		if err != nil {
			return nil, err
		}
		m.console = c
		m.srv.Handle("/console/", c.Handler())
	}
	return m, nil
}

// Run is the service: it builds the monitor and runs it until ctx is done.
func Run(ctx context.Context, deps service.Deps, cfg Config) error {
	m, err := New(deps, cfg)
	if err != nil {
		return err
	}
	return m.Run(ctx)
}

// Listen binds the HTTP listener; Addr is known afterwards. Run calls it
// when it has not been called.
func (m *Monitor) Listen() error {
	if err := m.srv.Listen(); err != nil {
		return err
	}
	m.listening = true
	return nil
}

// Addr is the HTTP server's address (after Listen).
func (m *Monitor) Addr() string { return m.srv.Addr() }

// Run restores the stored statuses, counts advisories, probes every target
// at its interval and serves HTTP, until ctx is done; then it waits for the
// probes in flight. Of several replicas, the one holding the publisher
// lease writes the bucket and publishes transitions (see publisher.go).
// It returns an error when the HTTP server cannot run.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.listening {
		if err := m.Listen(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.restore(ctx)
	if m.deps.Conn != nil {
		stop, err := m.advisories.Start(m.deps.Conn)
		if err != nil {
			m.log.Warn("max-deliveries advisories are not counted", "error", err.Error())
		} else {
			defer stop()
		}
	}
	g := supervise.New(ctx)
	m.srv.AddCheck("tasks", g.Check)
	if m.store != nil {
		m.publishing.Store(false)
		g.Go("publisher", m.contend)
	}
	if m.console != nil {
		g.Go("console jobs index", m.console.Run)
	}
	for _, j := range m.jobs {
		g.Go("probe "+j.probe.Name(), func(ctx context.Context) error { m.loop(ctx, j); return nil })
	}
	m.log.Info("health monitor running", "addr", m.Addr(), "probes", len(m.jobs), "interval", m.cfg.Interval.String(),
		"consecutive", m.cfg.Consecutive)
	g.GoLast("http", m.srv.Run)
	err := g.Wait()
	m.client.CloseIdleConnections()
	return err
}

// RunOnce probes every target once, all probes at the same time, and
// records what they found; Run does the same at every interval. It is for
// a one-off check (and tests): do not call it while Run runs.
func (m *Monitor) RunOnce(ctx context.Context) {
	var wg sync.WaitGroup
	for _, j := range m.jobs {
		wg.Go(func() { m.runJob(ctx, j) })
	}
	wg.Wait()
}

// restore loads the stored statuses so a restart neither forgets since
// when a target has had its status nor announces it again.
func (m *Monitor) restore(ctx context.Context) {
	if m.store == nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	recs, err := m.store.Load(lctx)
	if err != nil {
		m.log.Warn("stored health statuses not loaded: starting with an empty history", "error", err.Error())
		return
	}
	m.mu.Lock()
	for name, r := range recs {
		m.tracker.Restore(name, r.Status, r.Since)
		m.known[name] = r
	}
	m.mu.Unlock()
	m.log.Info("stored health statuses loaded", "targets", len(recs))
}
