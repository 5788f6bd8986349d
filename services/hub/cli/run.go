package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
	"github.com/insightpulse/pulsehub/services/hub/embedded"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// shutdownTimeout bounds how long `hub run` takes to stop after a signal.
const shutdownTimeout = 45 * time.Second

// unit is one service run by the hub.
type unit struct {
	name string
	run  func(context.Context, service.Deps) error
}

func units(c hubconfig.Config) []unit {
	return []unit{
		{"ingester", func(ctx context.Context, d service.Deps) error { return ingester.Run(ctx, d, c.Ingester) }},
		{"odoowriter", func(ctx context.Context, d service.Deps) error { return writer.Run(ctx, d, c.Writer) }},
		{"dispatcher", func(ctx context.Context, d service.Deps) error { return dispatch.Run(ctx, d, c.Dispatcher) }},
		{"healthmon", func(ctx context.Context, d service.Deps) error { return monitor.Run(ctx, d, c.Healthmon) }},
	}
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hub run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (default: hub.yaml if present, else built-in defaults)")
	dataDir := fs.String("data-dir", "", "JetStream file store directory of the embedded server (default ./data)")
	natsURL := fs.String("nats-url", "", "use this NATS server or cluster (comma-separated URLs) instead of the embedded one")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, file, err := hubconfig.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "hub run: config %s:\n%v\n", orNone(file), err)
		return 2
	}
	if *dataDir != "" {
		c.Embedded.DataDir = *dataDir
	}
	if *natsURL != "" {
		c.NATS.URL = *natsURL
	}
	if err := c.Validate().Err(); err != nil {
		fmt.Fprintf(stderr, "hub run: %v\n", err)
		return 2
	}
	base := service.NewLogger(stdout, c.Log, "")
	if err := run(ctx, c, file, base); err != nil {
		log := base.With("service", "hub")
		for _, n := range c.Notices {
			log.Warn(n)
		}
		log.Error("hub stopped with an error", "error", err.Error())
		return 1
	}
	return 0
}

// run starts the embedded server (unless an external one is configured),
// ensures the streams, runs every service until ctx is done or one fails,
// then stops them and the server in order.
func run(ctx context.Context, c hubconfig.Config, file string, base *slog.Logger) error {
	start := time.Now()
	log := base.With("service", "hub")
	for _, n := range c.Notices {
		log.Warn(n)
	}
	var srv *server.Server
	if c.NATS.URL == "" {
		var err error
		srv, err = embedded.Start(c.Embedded, embedded.SlogLogger{L: log.With("component", "nats-server")})
		if err != nil {
			return err
		}
		defer func() {
			embedded.Shutdown(srv)
			log.Info("embedded nats-server stopped")
		}()
		c.NATS.URL = srv.ClientURL()
	}
	connect := func(name string) (*nats.Conn, jetstream.JetStream, error) {
		if srv != nil {
			return connectInProcess(srv, name, log)
		}
		return service.Connect(ctx, c.NATS, name, log)
	}
	nc, js, err := connect("pulsehub")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := ensureStreams(ctx, js, c.Streams, log); err != nil {
		return err
	}
	svcCtx, stopServices := context.WithCancel(ctx)
	defer stopServices()
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for _, u := range units(c) {
		unc, ujs, err := connect("pulsehub-" + u.name)
		if err != nil {
			stopServices()
			wg.Wait()
			return err
		}
		deps := service.Deps{Conn: unc, JS: ujs, Logger: base.With("service", u.name),
			Registry: service.NewRegistry(), Streams: c.Streams}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = unc.Drain() }()
			if err := u.run(svcCtx, deps); err != nil && svcCtx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", u.name, err)
				stopServices()
			}
		}()
	}
	log.Info("pulse hub running", "config", orNone(file), "nats", c.NATS.URL, "embedded", srv != nil,
		"nats_monitor", monitorAddr(srv, c.Embedded), "data_dir", dataDir(srv, c.Embedded),
		"ingester", c.Ingester.HTTP.Listen, "odoowriter", c.Writer.HTTP.Listen, "dispatcher", c.Dispatcher.HTTP.Listen,
		"healthmon", c.Healthmon.HTTP.Listen, "routes", len(c.Routes), "startup_ms", time.Since(start).Milliseconds())
	<-svcCtx.Done()
	log.Info("shutting down: draining services")
	if !waitTimeout(&wg, shutdownTimeout) {
		return fmt.Errorf("services did not stop within %s", shutdownTimeout)
	}
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

func connectInProcess(srv *server.Server, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name(name), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats async error", "error", err.Error())
		}))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the embedded server: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// ensureStreams creates or updates the streams, retrying while JetStream
// is not ready yet (a cluster electing its meta leader), for up to 60s.
func ensureStreams(ctx context.Context, js jetstream.JetStream, c stream.Config, log *slog.Logger) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		changes, err := stream.Ensure(ctx, js, stream.Specs(c)...)
		if err == nil {
			for _, ch := range changes {
				if ch.Action != stream.Unchanged {
					log.Info("stream "+string(ch.Action), "stream", ch.Stream, "fields", ch.Fields)
				}
			}
			return nil
		}
		if errors.Is(err, stream.ErrIncompatible) || time.Now().After(deadline) {
			return err
		}
		log.Warn("jetstream not ready, retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func monitorAddr(srv *server.Server, c embedded.Config) string {
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
