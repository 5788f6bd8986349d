package ingester

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/insightpulse/pulsehub/events/lease"
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

// task is a loop with the name the supervisor knows it by (its lease key).
type task struct {
	name string
	run  loop
}

// Lease keys of the background loops in bucket leases: `nats kv get leases
// ingester.github-reconciler` shows which replica runs the reconciler.
const (
	pollLeasePrefix = "ingester.odoo-poll." // + source name
	reconcilerLease = "ingester.github-reconciler"
)

// backgroundLoops builds the Odoo polls and the GitHub reconciler that cfg
// asks for, with the checkpoints bucket they share. Each runs under its
// own lease, so of several ingester replicas one at a time polls a source
// or asks GitHub again, and another takes over when it stops.
func backgroundLoops(ctx context.Context, deps service.Deps, cfg Config) ([]task, error) {
	polls := pollSources(cfg)
	app := cfg.GitHub.App
	if len(polls) == 0 && !app.PrivateKey.IsSet() {
		return nil, nil
	}
	store, err := checkpoint.Open(ctx, deps.JS, deps.Streams)
	if err != nil {
		return nil, fmt.Errorf("ingester: %w", err)
	}
	var loops []task
	leased := leaser(deps)
	pollMetrics := odoopoll.NewMetrics(deps.Registry)
	for _, name := range polls {
		p, err := newPoller(deps, cfg, name, store, pollMetrics)
		if err != nil {
			return nil, err
		}
		loops = append(loops, leased(pollLeasePrefix+name, p.Run))
	}
	if app.PrivateKey.IsSet() {
		client, err := reconcile.NewClient(app.AppID, []byte(app.PrivateKey.Value()), app.BaseURL, nil)
		if err != nil {
			return nil, fmt.Errorf("ingester: github reconciler: %w", err)
		}
		records, err := reconcile.OpenRecords(ctx, deps.JS, deps.Streams)
		if err != nil {
			return nil, fmt.Errorf("ingester: github reconciler: %w", err)
		}
		r := &reconcile.Reconciler{Apps: client.Apps, Checkpoints: store, Records: records, Interval: app.Interval,
			Lookback: app.Lookback, Overlap: app.Overlap, MaxPages: app.MaxPages, MaxPerPass: app.MaxRedeliveriesPerPass,
			MaxPerMinute: app.MaxRedeliveriesPerMinute, Backoff: app.RedeliveryBackoff, MaxBackoff: app.RedeliveryBackoffMax,
			Log: deps.Logger.With("component", "github-reconciler"), Metrics: reconcile.NewMetrics(deps.Registry)}
		loops = append(loops, leased(reconcilerLease, r.Run))
	} else {
		deps.Logger.Info("github reconciler off: no ingester.github.app.private_key (failed deliveries are not asked again)")
	}
	return loops, nil
}

// leaser returns a function that wraps a loop in the lease key: the loop
// runs only while this replica holds it.
func leaser(deps service.Deps) func(key string, run loop) task {
	metrics := lease.NewMetrics(deps.Registry)
	holder := lease.DefaultHolder()
	return func(key string, run loop) task {
		l := lease.Lease{JS: deps.JS, Streams: deps.Streams, Key: key, Holder: holder, TTL: lease.DefaultTTL,
			Log: deps.Logger, Metrics: metrics}
		return task{name: key, run: func(ctx context.Context) error { return l.Run(ctx, run) }}
	}
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
	js, err := publishJS(deps)
	if err != nil {
		return nil, err
	}
	pub := &intake.Publisher{Conn: deps.Conn, JS: js, Timeout: pollPublishTimeout}
	return &odoopoll.Poller{Source: src, Odoo: client, Publish: pub, Checkpoints: store, Log: log, Metrics: m}, nil
}
