package reconcile_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/ingester/checkpoint"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/insightpulse/pulsehub/services/ingester/reconcile"
	"github.com/prometheus/client_golang/prometheus"
)

const appID = 424242

type env struct {
	gh    *githubtest.Server
	store *checkpoint.Store
	log   *ingesttest.Buffer
	nats  *ingesttest.NATS
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{gh: githubtest.New(t, appID), nats: ingesttest.StartNATS(t), log: &ingesttest.Buffer{}}
	deps := e.nats.Deps(t, e.log)
	store, err := checkpoint.Open(t.Context(), deps.JS, deps.Streams)
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	return e
}

// reconciler is a fresh reconciler (as after a restart) for the fake.
func (e *env) reconciler(t *testing.T, reg prometheus.Registerer) *reconcile.Reconciler {
	t.Helper()
	c, err := reconcile.NewClient(appID, e.gh.KeyPEM, e.gh.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &reconcile.Reconciler{Apps: c.Apps, Checkpoints: e.store, Log: slog.New(slog.NewJSONHandler(e.log, nil)),
		Metrics: reconcile.NewMetrics(reg)}
}

func ago(d time.Duration) time.Time { return time.Now().UTC().Add(-d).Truncate(time.Second) }

func TestReconcilerRedeliversExactlyTheFailedDeliveries(t *testing.T) {
	e := newEnv(t)
	opened := "opened"
	// Newest first as GitHub lists them; 3 per page, so the listing
	// follows the cursor in the Link header across several pages.
	e.gh.Add(githubtest.Delivery{GUID: "ok-1", DeliveredAt: ago(50 * time.Minute), StatusCode: 202, Event: "push"})
	e.gh.Add(githubtest.Delivery{GUID: "timeout-then-ok", DeliveredAt: ago(40 * time.Minute), StatusCode: 0, Event: "issues", Action: &opened})
	e.gh.Add(githubtest.Delivery{GUID: "timeout-then-ok", DeliveredAt: ago(35 * time.Minute), StatusCode: 202, Event: "issues", Redelivery: true})
	e.gh.Add(githubtest.Delivery{GUID: "down-503", DeliveredAt: ago(30 * time.Minute), StatusCode: 503, Event: "issues", Action: &opened})
	e.gh.Add(githubtest.Delivery{GUID: "twice-failed", DeliveredAt: ago(20 * time.Minute), StatusCode: 0, Event: "push"})
	e.gh.Add(githubtest.Delivery{GUID: "twice-failed", DeliveredAt: ago(10 * time.Minute), StatusCode: 502, Event: "push", Redelivery: true})
	e.gh.Add(githubtest.Delivery{GUID: "malformed-400", DeliveredAt: ago(9 * time.Minute), StatusCode: 400, Event: "push"})
	e.gh.Add(githubtest.Delivery{GUID: "ok-2", DeliveredAt: ago(5 * time.Minute), StatusCode: 200, Event: "ping"})
	e.gh.Add(githubtest.Delivery{GUID: "too-old", DeliveredAt: ago(80 * time.Hour), StatusCode: 0, Event: "push"})

	reg := prometheus.NewRegistry()
	r := e.reconciler(t, reg)
	r.PageSize = 3
	rep, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"down-503", "twice-failed"}; !slices.Equal(e.gh.Redelivered(), want) || !slices.Equal(rep.Redelivered, want) {
		t.Fatalf("redelivered %v (report %v), want %v", e.gh.Redelivered(), rep.Redelivered, want)
	}
	if !slices.Equal(rep.Failed, []string{"down-503", "twice-failed", "malformed-400"}) || !slices.Equal(rep.Skipped, []string{"malformed-400"}) {
		t.Fatalf("report %+v", rep)
	}
	if e.gh.ListCalls() < 3 || rep.Scanned != 8 {
		t.Fatalf("%d list calls, %d scanned: the pages were not followed or the window is wrong", e.gh.ListCalls(), rep.Scanned)
	}
	if got := gaugeValue(t, reg, "pulsehub_github_reconciler_failed_deliveries"); got != 3 {
		t.Fatalf("failed deliveries gauge = %v", got)
	}
	var m wire.ReconcilerCheckpoint
	if found, err := e.store.Load(t.Context(), wire.ReconcilerKey, &m); err != nil || !found || m.Failed != 3 || m.Redelivered != 2 {
		t.Fatalf("checkpoint %+v %v %v", m, found, err)
	}
	// What the health monitor reads, as stored: under the key it looks up,
	// in the shape the schema gives.
	stored, err := e.store.KV.Get(t.Context(), "github-reconciler")
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate("reconciler-checkpoint", stored.Value()); err != nil {
		t.Fatal(err)
	}
}

func TestReconcilerResumesFromItsCheckpointAfterARestart(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "first", DeliveredAt: ago(30 * time.Minute), StatusCode: 0, Event: "push"})
	if _, err := e.reconciler(t, nil).Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The redelivery of "first" succeeded (the fake lists it with 202).
	// A failure listed before the checkpoint is outside the next window;
	// one after it is in.
	e.gh.Add(githubtest.Delivery{GUID: "before-checkpoint", DeliveredAt: ago(20 * time.Minute), StatusCode: 0, Event: "push"})
	e.gh.Add(githubtest.Delivery{GUID: "after-checkpoint", DeliveredAt: time.Now().UTC().Add(time.Second), StatusCode: 504, Event: "push"})
	rep, err := e.reconciler(t, nil).Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"first", "after-checkpoint"}; !slices.Equal(e.gh.Redelivered(), want) {
		t.Fatalf("redelivered %v, want %v (report %+v)", e.gh.Redelivered(), want, rep)
	}
}

func TestReconcilerFailuresKeepTheCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "lost", DeliveredAt: ago(time.Hour), StatusCode: 0, Event: "push"})
	e.gh.FailList(1)
	r := e.reconciler(t, nil)
	if _, err := r.Reconcile(t.Context()); err == nil || !strings.Contains(err.Error(), "list app hook deliveries") {
		t.Fatalf("list failure: %v", err)
	}
	if found, _ := e.store.Load(t.Context(), wire.ReconcilerKey, &wire.ReconcilerCheckpoint{}); found {
		t.Fatal("a failed pass wrote a checkpoint")
	}
	if _, err := r.Reconcile(t.Context()); err != nil || !slices.Equal(e.gh.Redelivered(), []string{"lost"}) {
		t.Fatalf("the next pass: %v, redelivered %v", err, e.gh.Redelivered())
	}
}

func TestReconcilerIsRefusedWithAnotherAppsKey(t *testing.T) {
	e := newEnv(t)
	other := githubtest.New(t, appID)
	c, err := reconcile.NewClient(appID, other.KeyPEM, e.gh.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &reconcile.Reconciler{Apps: c.Apps, Checkpoints: e.store, Log: slog.New(slog.DiscardHandler)}
	if _, err := r.Reconcile(t.Context()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := reconcile.NewClient(appID, []byte("not a key"), e.gh.URL, nil); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("bad key: %v", err)
	}
}

func TestReconcilerRunStopsWithItsContext(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "lost", DeliveredAt: ago(time.Hour), StatusCode: 0, Event: "push"})
	e.gh.FailList(1)
	r := e.reconciler(t, nil)
	r.Interval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	natstest.WaitFor(t, 10*time.Second, "the redelivery after a failed pass", func() bool { return len(e.gh.Redelivered()) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.log.String(), "github reconciler pass failed") {
		t.Fatal("the failed pass was not logged")
	}
}

// gaugeValue reads a gauge from reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
