// Package ingester is Pulse Hub's front door: GitHub App webhooks on POST
// /github and Odoo webhook actions on POST /odoo/{name}/{token}, stored in
// the GITHUB and ODOO streams before they are answered 2xx; the catch-up
// poll of Odoo changes a webhook lost; and the reconciler that asks GitHub
// to redeliver what never arrived. Run wires them to one HTTP server
// (with GET /health and GET /metrics) and runs them until ctx is done.
package ingester

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/supervise"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/odoohook"
	"github.com/nats-io/nats.go/jetstream"
)

// Run serves the webhooks and runs the polls and the reconciler until ctx
// is done; in-flight requests are finished first. The HTTP server and each
// background loop are tasks of one supervisor: it returns an error when it
// cannot start (a bad App key, the checkpoints bucket refused, the port
// taken) or when any of them fails or stops, which stops the others.
func Run(ctx context.Context, deps service.Deps, cfg Config) error {
	srv, err := NewServer(deps, cfg)
	if err != nil {
		return err
	}
	loops, err := backgroundLoops(ctx, deps, cfg)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	g := supervise.New(ctx)
	srv.AddCheck("tasks", g.Check)
	for _, l := range loops {
		g.Go(l.name, l.run)
	}
	g.GoLast("http", srv.Run)
	return g.Wait()
}

// NewServer builds the HTTP server with every endpoint mounted; call its
// Listen and Run. Tests and the benchmark use it directly.
func NewServer(deps service.Deps, cfg Config) (*service.Server, error) {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		deps.Logger = log
	}
	if ps := cfg.Validate("ingester"); len(ps) > 0 {
		return nil, fmt.Errorf("ingester config: %w", ps.Err())
	}
	pubJS, err := publishJS(deps)
	if err != nil {
		return nil, err
	}
	srv := service.NewServer(cfg.HTTP, log, deps.Registry)
	srv.AddCheck(wire.HealthCheckNATS, service.CheckJetStream(deps.Conn, deps.JS))
	metrics := intake.NewMetrics(deps.Registry)
	bodies := intake.BodyRules{ // one budget for both endpoints
		Budget:      intake.NewBudget(cfg.MaxInFlightBytes, metrics),
		MinRate:     cfg.MinBodyRate,
		Grace:       cfg.MinBodyRateGrace,
		ReadTimeout: cfg.HTTP.EffectiveReadTimeout(),
	}
	accepted := slog.LevelInfo
	if !cfg.LogAccepted {
		accepted = slog.LevelDebug
	}
	if cfg.GitHub.Enabled {
		ep := githubHandler(deps, pubJS, cfg.GitHub, metrics).Endpoint(log, metrics, bodies)
		ep.AcceptedLevel = accepted
		srv.Handle("/github", ep)
	}
	if len(cfg.OdooSources) > 0 {
		ep := odooHandler(deps, pubJS, cfg, metrics).Endpoint(log, metrics, bodies)
		ep.AcceptedLevel = accepted
		srv.Handle("/odoo/{name}/{token}", ep)
	}
	warnMaxPayload(deps, cfg, log)
	return srv, nil
}

func githubHandler(deps service.Deps, js jetstream.JetStream, g GitHubConfig, m *intake.Metrics) *githubhook.Handler {
	v := githubhook.NewVerifier(secrets(g.WebhookSecrets)...)
	if g.InsecureSkipSignature {
		deps.Logger.Warn("INSECURE: ingester.github.insecure_skip_signature is set: unsigned GitHub deliveries are accepted and stored. "+
			"Anyone who can reach POST /github can inject events. Development only.", "webhook_secrets", v.Len())
	}
	return &githubhook.Handler{Verifier: v, Insecure: g.InsecureSkipSignature, MaxBody: g.MaxBodyBytes, Log: deps.Logger,
		Publish: &intake.Publisher{Conn: deps.Conn, JS: js, Timeout: g.PublishTimeout, Metrics: m}}
}

func odooHandler(deps service.Deps, js jetstream.JetStream, cfg Config, m *intake.Metrics) *odoohook.Handler {
	sources := make(map[string]odoohook.Source, len(cfg.OdooSources))
	for name, s := range cfg.OdooSources {
		sources[name] = odoohook.Source{Name: name, Token: s.Token.Value(), Model: s.Model, URI: cfg.sourceURI(s)}
	}
	return &odoohook.Handler{Sources: sources, MaxBody: cfg.OdooWebhook.MaxBodyBytes, Log: deps.Logger,
		Publish: &intake.Publisher{Conn: deps.Conn, JS: js, Timeout: cfg.OdooWebhook.PublishTimeout, Metrics: m},
		Stored:  &odoohook.StreamLookup{JS: deps.JS}}
}

// publishJS is the JetStream context the webhooks publish with
// (intake.PublishJS); deps.JS when there is no connection to make one on.
func publishJS(deps service.Deps) (jetstream.JetStream, error) {
	if deps.Conn == nil {
		return deps.JS, nil
	}
	js, err := intake.PublishJS(deps.Conn)
	if err != nil {
		return nil, fmt.Errorf("ingester: %w", err)
	}
	return js, nil
}

// sourceURI is a source's ce-source: its instance's URL when it has one.
func (c Config) sourceURI(s OdooSource) string {
	if inst, ok := c.Odoo[s.Instance]; ok && inst.URL != "" {
		return inst.URL
	}
	return ""
}

// warnMaxPayload says at start when NATS would refuse bodies the ingester
// accepts (a stock nats-server takes 1 MiB; GitHub sends up to 25 MiB).
func warnMaxPayload(deps service.Deps, cfg Config, log *slog.Logger) {
	if deps.Conn == nil || !deps.Conn.IsConnected() || !cfg.GitHub.Enabled {
		return
	}
	const headroom = 8 << 10 // envelope headers
	if mp := deps.Conn.MaxPayload(); mp < cfg.GitHub.MaxBodyBytes+headroom {
		log.Warn("the NATS server's max_payload is smaller than ingester.github.max_body_bytes: larger GitHub deliveries will be refused with 413; "+
			"raise max_payload (the embedded server uses 32 MiB)", "max_payload", mp, "max_body_bytes", cfg.GitHub.MaxBodyBytes)
	}
}
