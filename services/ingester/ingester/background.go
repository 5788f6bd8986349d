package ingester

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/ingester/checkpoint"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/odoopoll"
	"github.com/insightpulse/pulsehub/services/ingester/reconcile"
)

// pollPublishTimeout bounds a poll's wait for each PubAck; nobody is
// waiting on the other end, so it can be generous.
const pollPublishTimeout = 10 * time.Second

// loop is a background task that runs until its ctx is done.
type loop func(ctx context.Context) error

// backgroundLoops builds the Odoo polls and the GitHub reconciler that cfg
// asks for, with the checkpoints bucket they share.
func backgroundLoops(ctx context.Context, deps service.Deps, cfg Config) ([]loop, error) {
	polls := pollSources(cfg)
	app := cfg.GitHub.App
	if len(polls) == 0 && !app.PrivateKey.IsSet() {
		return nil, nil
	}
	store, err := checkpoint.Open(ctx, deps.JS, deps.Streams)
	if err != nil {
		return nil, fmt.Errorf("ingester: %w", err)
	}
	var loops []loop
	pollMetrics := odoopoll.NewMetrics(deps.Registry)
	for _, name := range polls {
		p, err := newPoller(deps, cfg, name, store, pollMetrics)
		if err != nil {
			return nil, err
		}
		loops = append(loops, p.Run)
	}
	if app.PrivateKey.IsSet() {
		client, err := reconcile.NewClient(app.AppID, []byte(app.PrivateKey.Value()), app.BaseURL, nil)
		if err != nil {
			return nil, fmt.Errorf("ingester: github reconciler: %w", err)
		}
		r := &reconcile.Reconciler{Apps: client.Apps, Checkpoints: store, Interval: app.Interval, Lookback: app.Lookback,
			Log: deps.Logger.With("component", "github-reconciler"), Metrics: reconcile.NewMetrics(deps.Registry)}
		loops = append(loops, r.Run)
	} else {
		deps.Logger.Info("github reconciler off: no ingester.github.app.private_key (failed deliveries are not asked again)")
	}
	return loops, nil
}

// pollSources lists the sources with a poll, sorted.
func pollSources(cfg Config) []string {
	var out []string
	for name, s := range cfg.OdooSources {
		if s.Poll.Enabled {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func newPoller(deps service.Deps, cfg Config, name string, store *checkpoint.Store, m *odoopoll.Metrics) (*odoopoll.Poller, error) {
	s := cfg.OdooSources[name]
	inst, ok := cfg.Odoo[s.Instance]
	if !ok {
		return nil, fmt.Errorf("ingester: odoo source %s: instance %q is not in the top-level odoo: section", name, s.Instance)
	}
	log := deps.Logger.With("component", "odoo-poll", "odoo_source", name)
	client, err := odoo.New(inst, odoo.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("ingester: odoo source %s: %w", name, err)
	}
	fields := s.Poll.Fields
	if len(fields) == 0 {
		fields = []string{"write_date"}
	}
	src := odoopoll.Source{Name: name, Model: s.Model, URI: cfg.sourceURI(s), Fields: fields, Interval: s.Poll.Interval,
		PageSize: s.Poll.PageSize, Overlap: s.Poll.Overlap, Lookback: s.Poll.Lookback}
	pub := &intake.Publisher{Conn: deps.Conn, JS: deps.JS, Timeout: pollPublishTimeout}
	return &odoopoll.Poller{Source: src, Odoo: client, Publish: pub, Checkpoints: store, Log: log, Metrics: m}, nil
}
