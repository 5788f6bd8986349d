// Package writer is Pulse Hub's Odoo writer: it runs one durable consumer
// per route with an odoo: target, and the built-in route odoo-cmd on
// odoo.cmd.>, and turns their events into batched, idempotent writes in
// Odoo (packages plan, batch and apply). A message is acknowledged only
// after Odoo answered for it; a permanent fault dead-letters it with
// Odoo's message, a transient one sends it back for a retry with backoff.
//
// /health answers for what the writer itself needs (NATS and JetStream):
// a down Odoo does not make it fail, so the hub's health does not flap
// with Odoo's; /health/odoo and the pulsehub_odoowriter_odoo_up metric
// report each Odoo instance's last call, and the health monitor probes
// Odoo on its own.
package writer

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/supervise"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/odoowriter/apply"
	"github.com/insightpulse/pulsehub/services/odoowriter/batch"
)

// Run serves /health, /health/odoo and /metrics and runs the routes until
// ctx is done; then it lets in-flight writes finish (up to ShutdownGrace),
// hands the rest back to the streams, and returns. A route that does not
// compile, or a consumer that cannot be created, stops it at start.
func Run(ctx context.Context, deps service.Deps, cfg Config) error {
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	w, err := newWriter(deps, cfg, log)
	if err != nil {
		return err
	}
	if err := w.ensureConsumers(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	srv := service.NewServer(cfg.HTTP, log, deps.Registry)
	srv.AddCheck(wire.HealthCheckNATS, service.CheckJetStream(deps.Conn, deps.JS))
	srv.Handle("GET /health/odoo", w.odooHealth())
	// Odoo's state shows in /health without failing it: a down Odoo is a
	// fact about Odoo (its messages wait in JetStream), not a failed writer.
	srv.AddDetail("odoo", func(context.Context) any { return w.monitor.Status() })
	if len(w.loops) == 0 {
		log.Info("odoo writer idle: no Odoo instance or no route to run", "odoo_instances", len(cfg.Odoo), "routes", len(cfg.odooRoutes()))
		return srv.Run(ctx)
	}
	return w.run(ctx, srv)
}

// writer is one running writer: its loops share one batcher and applier.
type writer struct {
	cfg     Config
	deps    service.Deps
	log     *slog.Logger
	monitor *apply.Monitor
	clients map[string]*odoo.Client
	batcher *batch.Batcher
	loops   []*loop
	used    []string // the instances routes write to, by name
}

// loop is one route's consume loop and its consumer.
type loop struct {
	opts stream.ConsumerOptions
	l    *consume.Loop
}

func newWriter(deps service.Deps, cfg Config, log *slog.Logger) (*writer, error) {
	if ps := cfg.Validate("odoowriter"); len(ps) > 0 {
		return nil, fmt.Errorf("odoowriter: %w", ps.Err())
	}
	names := make([]string, 0, len(cfg.Odoo))
	for n := range cfg.Odoo {
		names = append(names, n)
	}
	sort.Strings(names)
	w := &writer{cfg: cfg, deps: deps, log: log, monitor: apply.NewMonitor(deps.Registry, names), clients: map[string]*odoo.Client{}}
	mappers, err := compileRoutes(cfg)
	if err != nil {
		return nil, err
	}
	if len(cfg.Odoo) == 0 {
		return w, nil
	}
	for _, n := range names {
		c, err := odoo.New(cfg.Odoo[n], odoo.WithLogger(log.With("odoo_instance", n)))
		if err != nil {
			return nil, fmt.Errorf("odoo instance %s: %w", n, err)
		}
		w.clients[n] = c
	}
	applier := apply.New(w.clients, w.monitor, log)
	w.batcher = batch.New(applier.Apply, cfg.BatchSize, cfg.Linger, newBatchMetrics(deps.Registry).observe)
	cm := consume.NewMetrics(deps.Registry)
	g := newGate() // shared by every route: the cores are
	used := map[string]bool{}
	for _, m := range mappers {
		w.addLoop(m.spec, routeHandler(m.mapper, w.batcher, g), cm)
		used[m.mapper.Instance()] = true
	}
	if cfg.CmdRoute.Enabled {
		w.addLoop(cmdSpec(cfg), cmdHandler(cfg.Instance, w.batcher, g), cm)
		used[cfg.Instance] = true
	}
	for _, n := range names {
		if used[n] {
			w.used = append(w.used, n)
		}
	}
	return w, nil
}

// authenticate logs in to every instance the routes write to, each in
// its own goroutine, and returns at once; wait waits for them to end.
// Odoo checks the credentials while the consumers fetch their first
// messages, rather than after the first batch has formed: Odoo serves
// one call at a time, and that call (~20 ms, a password hash) would
// otherwise come first in the queue of every backlog. A failure is only
// logged: the first call authenticates again and reports it.
func (w *writer) authenticate(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	for _, n := range w.used {
		wg.Go(func() {
			if _, err := w.clients[n].Authenticate(ctx); err != nil && ctx.Err() == nil {
				w.log.Debug("odoo: authentication at start failed; the first call tries again", "odoo_instance", n, "error", err)
			}
		})
	}
	return wg.Wait
}

func (w *writer) addLoop(spec route.Spec, h consume.Handler, cm *consume.Metrics) {
	chain := consume.Chain(h, consume.Standard(w.log, cm, consume.DeadLetter{JS: w.deps.JS}, spec.Retry.Policy())...)
	w.loops = append(w.loops, &loop{opts: spec.ConsumerOptions(), l: &consume.Loop{
		JS: w.deps.JS, Stream: spec.From.Stream, Consumer: spec.Name, Handler: chain, Concurrency: spec.Concurrency,
		ShutdownGrace: w.cfg.ShutdownGrace, PollWait: w.cfg.pollWait, Logger: w.log,
	}})
}

// ensureConsumers creates or updates every route's durable consumer.
func (w *writer) ensureConsumers(ctx context.Context) error {
	for _, lp := range w.loops {
		c, err := stream.EnsureConsumer(ctx, w.deps.JS, lp.opts)
		if err != nil {
			return fmt.Errorf("route %s: %w", lp.opts.Name, err)
		}
		// Its deliveries from now on are the loop's (one replica of the
		// writer; with several, each sees gaps, which the batcher gives up
		// waiting for after the linger).
		w.batcher.Track(deliveryKey(lp.opts.Stream, lp.opts.Name), c.CachedInfo().Delivered.Consumer)
	}
	return nil
}

// run runs the server and every loop under one supervisor: the first to
// fail (or to return while the writer runs) stops the others.
func (w *writer) run(ctx context.Context, srv *service.Server) error {
	if err := srv.Listen(); err != nil {
		return err
	}
	actx, cancelAuth := context.WithCancel(ctx)
	defer w.authenticate(actx)() // deferred calls run last first: cancelAuth, then this wait
	defer cancelAuth()
	g := supervise.New(ctx)
	srv.AddCheck("tasks", g.Check)
	for _, lp := range w.loops {
		g.Go("route "+lp.opts.Name, func(ctx context.Context) error { return consume.RunRoute(ctx, lp.l) })
	}
	g.GoLast("http", srv.Run)
	w.log.Info("odoo writer running", "routes", len(w.loops), "batch_size", w.cfg.BatchSize, "linger", w.cfg.Linger.String())
	err := g.Wait()
	w.batcher.Close() // every handler returned: cut what is left in flight
	for _, c := range w.clients {
		c.CloseIdleConnections()
	}
	return err
}
