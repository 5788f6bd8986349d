package reconcile_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/ingester/checkpoint"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/insightpulse/pulsehub/services/ingester/reconcile"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

const appID = 424242

type env struct {
	gh      *githubtest.Server
	store   *checkpoint.Store
	records *reconcile.Records
	log     *ingesttest.Buffer
	nats    *ingesttest.NATS
	js      jetstream.JetStream
	shift   atomic.Int64 // the hub's clock is time.Now plus this
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{gh: githubtest.New(t, appID), nats: ingesttest.StartNATS(t), log: &ingesttest.Buffer{}}
	deps := e.nats.Deps(t, e.log)
	store, err := checkpoint.Open(t.Context(), deps.JS, deps.Streams)
	if err != nil {
		t.Fatal(err)
	}
	records, err := reconcile.OpenRecords(t.Context(), deps.JS, deps.Streams)
	if err != nil {
		t.Fatal(err)
	}
	e.store, e.records, e.js = store, records, deps.JS
	return e
}

// now is the hub's clock: a test moves it on (or back) with e.shift
// while GitHub's (the fake's) stays time.Now.
func (e *env) now() time.Time { return time.Now().Add(time.Duration(e.shift.Load())) }

// reconciler is a fresh reconciler (as after a restart) for the fake,
// pacing its redelivery requests 1 ms apart so tests run fast.
func (e *env) reconciler(t *testing.T, reg prometheus.Registerer) *reconcile.Reconciler {
	t.Helper()
	c, err := reconcile.NewClient(appID, e.gh.KeyPEM, e.gh.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &reconcile.Reconciler{Apps: c.Apps, Checkpoints: e.store, Records: e.records, MaxPerMinute: 60000,
		Log: slog.New(slog.NewJSONHandler(e.log, nil)), Metrics: reconcile.NewMetrics(reg), Now: e.now}
}

// checkpoint reads the reconciler's checkpoint.
func (e *env) checkpoint(t *testing.T) wire.ReconcilerCheckpoint {
	t.Helper()
	var cp wire.ReconcilerCheckpoint
	if _, err := e.store.Load(t.Context(), wire.ReconcilerKey, &cp); err != nil {
		t.Fatal(err)
	}
	return cp
}

// record reads the record of guid in bucket github-redeliveries, checked
// against its schema; nil when there is none.
func (e *env) record(t *testing.T, guid string) map[string]any {
	t.Helper()
	kv, err := e.js.KeyValue(t.Context(), events.BucketGitHubRedeliveries)
	if err != nil {
		t.Fatal(err)
	}
	v, err := kv.Get(t.Context(), guid)
	if err != nil {
		return nil
	}
	if err := schemas.Validate("github-redelivery", v.Value()); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(v.Value(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// pass runs one pass and waits for the redeliveries GitHub accepted to
// be made.
func (e *env) pass(t *testing.T, r *reconcile.Reconciler) (reconcile.Report, error) {
	t.Helper()
	rep, err := r.Reconcile(t.Context())
	e.gh.Wait()
	return rep, err
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
	rep, err := e.pass(t, r)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: a recent event matters most.
	if want := []string{"twice-failed", "down-503"}; !slices.Equal(e.gh.Redelivered(), want) || !slices.Equal(rep.Redelivered, want) {
		t.Fatalf("redelivered %v (report %v), want %v", e.gh.Redelivered(), rep.Redelivered, want)
	}
	if !slices.Equal(rep.Failed, []string{"malformed-400", "twice-failed", "down-503"}) || !slices.Equal(rep.Skipped, []string{"malformed-400"}) {
		t.Fatalf("report %+v", rep)
	}
	if e.gh.ListCalls() < 3 || rep.Scanned != 8 {
		t.Fatalf("%d list calls, %d scanned: the pages were not followed or the window is wrong", e.gh.ListCalls(), rep.Scanned)
	}
	if got := ingesttest.Metric(t, reg, "pulsehub_github_reconciler_failed_deliveries", nil); got != 3 {
		t.Fatalf("failed deliveries gauge = %v", got)
	}
	cp := e.checkpoint(t)
	if cp.Failed != 3 || cp.Redelivered != 2 || cp.Pending != 2 || cp.Refused != 1 || cp.ErrorClass != "" {
		t.Fatalf("checkpoint %+v", cp)
	}
	if rec := e.record(t, "down-503"); rec["state"] != "pending" || rec["asked"] != 1.0 || rec["status_code"] != 503.0 {
		t.Fatalf("record of down-503: %v", rec)
	}
	if rec := e.record(t, "malformed-400"); rec["state"] != "rejected" || rec["asked"] != 0.0 {
		t.Fatalf("record of malformed-400: %v", rec)
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

	// The redeliveries are listed as successful attempts: the next pass
	// drops their records, and asks for nothing.
	e.gh.SetClock(func() time.Time { return time.Now().Add(time.Second) }) // past the fake's list delay
	rep, err = e.pass(t, e.reconciler(t, nil))
	if err != nil || !slices.Equal(rep.Delivered, []string{"down-503", "twice-failed"}) || len(e.gh.Redelivered()) != 2 {
		t.Fatalf("after the redeliveries: %v, report %+v, redelivered %v", err, rep, e.gh.Redelivered())
	}
	if e.record(t, "down-503") != nil || e.checkpoint(t).Failed != 1 {
		t.Fatalf("a delivered GUID kept its record: %+v", e.checkpoint(t))
	}
}

func TestReconcilerResumesFromItsCheckpointAfterARestart(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "first", DeliveredAt: ago(30 * time.Minute), StatusCode: 0, Event: "push"})
	if _, err := e.pass(t, e.reconciler(t, nil)); err != nil {
		t.Fatal(err)
	}
	// The redelivery of "first" was asked for: a fresh reconciler does
	// not ask again before its backoff. A failure listed more than the
	// overlap before the checkpoint is outside the next window (one page
	// a request, so the listing stops where it crosses it); one after the
	// checkpoint is in.
	e.gh.Add(githubtest.Delivery{GUID: "before-checkpoint", DeliveredAt: ago(90 * time.Minute), StatusCode: 0, Event: "push"})
	e.gh.Add(githubtest.Delivery{GUID: "after-checkpoint", DeliveredAt: time.Now().UTC().Add(time.Second), StatusCode: 504, Event: "push"})
	r := e.reconciler(t, nil)
	r.PageSize = 1
	rep, err := e.pass(t, r)
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
	if _, err := e.pass(t, r); err == nil || !strings.Contains(err.Error(), "list app hook deliveries") {
		t.Fatalf("list failure: %v", err)
	}
	// The failed pass says why in the checkpoint, and moves nothing.
	cp := e.checkpoint(t)
	if !cp.Since.IsZero() || !cp.At.IsZero() || cp.ErrorClass != wire.ReconcilerErrorGitHubUnavailable || !strings.Contains(cp.Error, "500") {
		t.Fatalf("after a failed pass: %+v", cp)
	}
	if _, err := e.pass(t, r); err != nil || !slices.Equal(e.gh.Redelivered(), []string{"lost"}) {
		t.Fatalf("the next pass: %v, redelivered %v", err, e.gh.Redelivered())
	}
	if cp := e.checkpoint(t); cp.Since.IsZero() || cp.ErrorClass != "" {
		t.Fatalf("after a good pass: %+v", cp)
	}
}

func TestReconcilerIsRefusedWithAnotherAppsKey(t *testing.T) {
	e := newEnv(t)
	other := githubtest.New(t, appID)
	c, err := reconcile.NewClient(appID, other.KeyPEM, e.gh.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &reconcile.Reconciler{Apps: c.Apps, Checkpoints: e.store, Records: e.records, Log: slog.New(slog.DiscardHandler)}
	if _, err := r.Reconcile(t.Context()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong key: %v", err)
	}
	if cp := e.checkpoint(t); cp.ErrorClass != wire.ReconcilerErrorUnauthorized {
		t.Fatalf("checkpoint %+v", cp)
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
	e.gh.Wait()
	if !strings.Contains(e.log.String(), "github reconciler pass failed") {
		t.Fatal("the failed pass was not logged")
	}
}
