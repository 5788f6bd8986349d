// Package root is Pulse Hub's one composition root: the only place that
// starts a NATS server, opens NATS connections, ensures the streams and
// runs services. `hub run` calls it for every deployment shape: all four
// services on the embedded server (the quick start), or any subset of
// them (`--only`) against an external server or cluster (one container
// per service in deploy/).
//
// Everything runs under one supervisor (package events/supervise): each
// service is a task of the root's group, and each service runs its own
// loops and HTTP server as tasks of a group of its own. The first failure
// anywhere — a service that cannot start, a loop that dies, a NATS
// connection closed for good — stops every service in order (they finish
// or hand back their in-flight messages), then the connections are
// drained, then the embedded server stops; Run returns that failure and
// `hub run` logs it once and exits 1, so systemd, Docker or Kubernetes
// restart the process.
package root

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"time"

	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/supervise"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
	"github.com/insightpulse/pulsehub/services/hub/embedded"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
)

// ShutdownTimeout bounds how long the services take to stop once asked.
const ShutdownTimeout = 45 * time.Second

// Options are what `hub run` decided from its flags and config file.
type Options struct {
	Config hubconfig.Config // loaded and validated for Only
	File   string           // the config file read, "" for none (for the log)
	Only   []string         // the services to run (hubconfig.Services order); empty = all
	Logger *slog.Logger     // the base logger; each service adds its name
}

// unit is one service the root can run.
type unit struct {
	name string
	run  func(context.Context, service.Deps) error
}

func units(c hubconfig.Config) []unit {
	return []unit{
		{hubconfig.Ingester, func(ctx context.Context, d service.Deps) error { return ingester.Run(ctx, d, c.Ingester) }},
		{hubconfig.OdooWriter, func(ctx context.Context, d service.Deps) error { return writer.Run(ctx, d, c.Writer) }},
		{hubconfig.Dispatcher, func(ctx context.Context, d service.Deps) error { return dispatch.Run(ctx, d, c.Dispatcher) }},
		{hubconfig.Healthmon, func(ctx context.Context, d service.Deps) error { return monitor.Run(ctx, d, c.Healthmon) }},
	}
}

// Run starts the embedded server (when no NATS URL is configured), opens
// one connection per service, ensures the streams, and runs the chosen
// services until ctx is done or anything fails; then it stops them, the
// connections and the server in that order. It returns the first failure,
// or nil after a clean stop.
func Run(ctx context.Context, o Options) error {
	start := time.Now()
	c := o.Config
	log := o.Logger.With("service", "hub")
	for _, n := range c.Notices {
		log.Warn(n)
	}
	selected := selectUnits(c, o.Only)
	memLimit, memLimitFrom := c.Process.ApplyMemoryLimit(os.Getenv, defaultMemoryLimit(selected, c.NATS.URL, c.Ingester.MaxInFlightBytes))
	gcPercent, gcPercentFrom := c.Process.ApplyGCPercent(os.Getenv, defaultGCPercent(selected, c.NATS.URL, memLimit))
	stopTracing, err := tracing.Setup(ctx, c.Tracing, log)
	if err != nil {
		return err
	}
	defer func() { // last: the spans of the services' shutdown are exported too
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.Warn("tracing: spans not exported on shutdown", "error", err.Error())
		}
	}()

	var (
		srv   *server.Server
		creds embedded.Credentials // the embedded server's users; nil for an external server or auth none
	)
	if c.NATS.URL == "" {
		var (
			created []string
			err     error
		)
		if creds, created, err = embedded.EnsureCredentials(c.Embedded); err != nil {
			return err
		}
		if len(created) > 0 {
			log.Info("generated NATS credentials for the embedded server", "users", created, "dir", c.Embedded.CredentialsDir())
		}
		srv, err = embedded.Start(ctx, c.Embedded, embedded.SlogLogger{L: log.With("component", "nats-server")})
		if err != nil {
			if ctx.Err() != nil {
				return nil // a signal while starting: nothing ran, nothing to hand back
			}
			return err
		}
		defer func() {
			embedded.Shutdown(srv)
			log.Info("embedded nats-server stopped")
		}()
		c.NATS.URL = srv.ClientURL()
		if err := announceAuth(c.Embedded, srv.ClientURL(), log); err != nil {
			return err
		}
	}

	g := supervise.New(ctx)
	var conns []*service.Conn
	defer func() {
		for _, cn := range slices.Backward(conns) {
			cn.Close()
		}
	}()
	// open connects as user: on the embedded server with the user's own
	// nkey; on an external one with the `nats:` credentials (a deployment
	// gives each service's process its own), replies on the user's inbox.
	open := func(name, user string, reg *prometheus.Registry) (*service.Conn, error) {
		co := service.ConnOptions{Name: name, Logger: log, Registry: reg, InboxPrefix: natsauth.InboxPrefix(user),
			OnClosed: func(err error) { g.Fail("nats", err) }}
		nc := c.NATS
		if srv != nil {
			co.InProcess = srv
		}
		if creds != nil {
			nc = creds.For(user, c.NATS)
		}
		cn, err := service.Open(nc, co)
		if err != nil {
			return nil, err
		}
		conns = append(conns, cn)
		return cn, nil
	}

	// The streams are ensured by the operator on the embedded server, else
	// with this process's credentials (every service user may).
	adminUser := natsauth.Operator
	if creds == nil && len(selected) > 0 {
		adminUser = selected[0].name
	}
	admin, err := open("pulsehub", adminUser, nil)
	if err != nil {
		return err
	}
	if err := ensureStreams(g.Context(), admin, c.Streams, log); err != nil {
		g.Stop()
		_ = g.Wait()
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	admin.Close() // the services have their own
	for _, u := range selected {
		reg := service.NewRegistry()
		user := u.name
		if u.name == hubconfig.Healthmon && c.Healthmon.Console.Enabled {
			// The console acts for the operators logged in to it (requeue,
			// purge, replay): its process connects as the operator.
			user = natsauth.Operator
		}
		cn, err := open("pulsehub-"+u.name, user, reg)
		if err != nil {
			g.Fail(u.name, err)
			break
		}
		deps := service.Deps{Conn: cn.NC, JS: cn.JS, Logger: o.Logger.With("service", u.name), Registry: reg, Streams: c.Streams}
		g.Go(u.name, func(ctx context.Context) error { return u.run(ctx, deps) })
	}
	log.Info("pulse hub running", "config", orNone(o.File), "nats", c.NATS.URL, "embedded", srv != nil,
		"nats_monitor", monitorAddr(srv), "data_dir", dataDir(srv, c.Embedded), "services", names(selected),
		"ingester", c.Ingester.HTTP.Listen, "odoowriter", c.Writer.HTTP.Listen, "dispatcher", c.Dispatcher.HTTP.Listen,
		"healthmon", c.Healthmon.HTTP.Listen, "routes", len(c.Routes), "memory_limit", memLimit, "memory_limit_from", memLimitFrom,
		"gc_percent", gcPercent, "gc_percent_from", gcPercentFrom,
		"startup_ms", time.Since(start).Milliseconds())
	return wait(g, log)
}

// announceAuth says how people reach the embedded server: it writes the
// operator's NATS CLI context and logs how to use it, or warns that the
// server lets anyone in.
func announceAuth(c embedded.Config, url string, log *slog.Logger) error {
	if !c.RequiresAuth() {
		log.Warn("the embedded NATS server accepts every client with every permission (embedded.auth: none)")
		return nil
	}
	if err := embedded.WriteContext(c, url); err != nil {
		return err
	}
	log.Info("embedded NATS requires credentials: hub status, replay, dlq and jobs use the operator's from the data directory",
		"credentials", c.CredentialsDir(), "nats_cli", "nats --context "+c.ContextFile()+" stream ls")
	return nil
}

// wait waits for the group, bounding the stop that follows a signal or a
// failure by ShutdownTimeout.
func wait(g *supervise.Group, log *slog.Logger) error {
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-g.Context().Done():
	}
	if cause := context.Cause(g.Context()); cause != nil && !errors.Is(cause, context.Canceled) {
		log.Info("shutting down after a failure: draining services", "cause", cause.Error())
	} else {
		log.Info("shutting down: draining services")
	}
	select {
	case err := <-done:
		return err
	case <-time.After(ShutdownTimeout):
		if err := g.Check(context.Background()); err != nil {
			return fmt.Errorf("services did not stop within %s (%v)", ShutdownTimeout, err)
		}
		return fmt.Errorf("services did not stop within %s", ShutdownTimeout)
	}
}

// selectUnits keeps the units named in only, in their usual order.
// ingesterAlone reports whether the process runs only the ingester,
// against an external NATS (no embedded server, whose heap grows with
// what is stored, shares its runtime).
func ingesterAlone(selected []unit, natsURL string) bool {
	return len(selected) == 1 && selected[0].name == hubconfig.Ingester && natsURL != ""
}

// defaultMemoryLimit is process.memory_limit_bytes's default (0 = none):
// for the ingester alone, what its README recommends, 1.25 × the body
// budget (the bodies it may hold at once) + 32 MiB for the idle process;
// none when the budget is unlimited. It is a soft limit (the collector
// works harder near it), the backstop that lets the ingester collect at
// ingesterGCPercent; a container's own limit is set with GOMEMLIMIT or
// memory_limit_bytes, which win.
func defaultMemoryLimit(selected []unit, natsURL string, budget int64) int64 {
	if !ingesterAlone(selected, natsURL) || budget <= 0 {
		return 0
	}
	return budget/4*5 + 32<<20
}

// ingesterGCPercent is the garbage collector's pace of a process that
// runs only the ingester: 400 cut its CPU per delivery by 16-20 % at c=64
// (docs/performance.md, issue 14), its live heap being small.
const ingesterGCPercent = 400

// defaultGCPercent is process.gc_percent's default (0 = Go's 100): the
// ingester's pace when the process runs only the ingester, against an
// external NATS (the embedded server's heap, which grows with what is
// stored, would grow with it), with a memory limit in effect (GOMEMLIMIT,
// memory_limit_bytes or defaultMemoryLimit) — the limit bounds the heap,
// which at 400 could otherwise reach five times what is live (the body
// budget, 256 MiB by default, at its fullest).
func defaultGCPercent(selected []unit, natsURL string, memLimit int64) int {
	if ingesterAlone(selected, natsURL) && memLimit > 0 && memLimit < math.MaxInt64 {
		return ingesterGCPercent
	}
	return 0
}

func selectUnits(c hubconfig.Config, only []string) []unit {
	all := units(c)
	if len(only) == 0 {
		return all
	}
	var out []unit
	for _, u := range all {
		if slices.Contains(only, u.name) {
			out = append(out, u)
		}
	}
	return out
}

func names(us []unit) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.name
	}
	return out
}

// ensureStreams creates or updates the streams (stream.Ensure retries
// through a leader election) and logs what changed.
func ensureStreams(ctx context.Context, cn *service.Conn, c stream.Config, log *slog.Logger) error {
	log.Info("ensuring streams (waiting for JetStream if it is not ready yet)", "replicas", c.Replicas,
		"wait_max", stream.ReadyTimeout.String())
	changes, err := stream.Ensure(ctx, cn.JS, stream.Specs(c)...)
	if err != nil {
		return fmt.Errorf("ensure streams: %w", err)
	}
	for _, ch := range changes {
		if ch.Action != stream.Unchanged {
			log.Info("stream "+string(ch.Action), "stream", ch.Stream, "fields", ch.Fields)
		}
	}
	return nil
}

func monitorAddr(srv *server.Server) string {
	if srv == nil || srv.MonitorAddr() == nil {
		return ""
	}
	return "http://" + srv.MonitorAddr().String()
}

func dataDir(srv *server.Server, c embedded.Config) string {
	if srv == nil {
		return ""
	}
	return c.DataDir
}

func orNone(file string) string {
	if file == "" {
		return "(none: built-in defaults)"
	}
	return file
}
