package reconcile_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/prometheus/client_golang/prometheus"
)

// Issue 19, point 1: one delivery GitHub refuses (422) or one request
// that fails (502) never stops a pass; the refused one is recorded and
// not asked again, the failed one is asked again after its backoff.
func TestAPassNeverStopsOnOneDelivery(t *testing.T) {
	e := newEnv(t)
	e.gh.SetListDelay(0)
	e.gh.Add(githubtest.Delivery{GUID: "older", DeliveredAt: ago(30 * time.Minute), StatusCode: 0, Event: "push"})
	e.gh.Add(githubtest.Delivery{GUID: "refused", DeliveredAt: ago(20 * time.Minute), StatusCode: 0, Event: "push"})
	e.gh.Add(githubtest.Delivery{GUID: "newest-502", DeliveredAt: ago(10 * time.Minute), StatusCode: 503, Event: "issues"})
	e.gh.Refuse("refused")
	e.gh.FailRedeliver(1) // the first request, for the newest failure

	reg := prometheus.NewRegistry()
	r := e.reconciler(t, reg)
	for pass := range 3 {
		if _, err := e.pass(t, r); err != nil {
			t.Fatalf("pass %d stopped: %v", pass+1, err)
		}
	}
	if got := e.gh.Redelivered(); !slices.Equal(got, []string{"older"}) {
		t.Fatalf("redelivered %v, want [older]: a refusal or a failed request stopped the pass", got)
	}
	if got := e.gh.Refused(); !slices.Equal(got, []string{"refused"}) {
		t.Fatalf("GitHub refused %v: a refused delivery must be asked once, not on every pass", got)
	}
	if rec := e.record(t, "refused"); rec["state"] != "refused" || rec["error_class"] != wire.ReconcilerErrorRefused ||
		!strings.Contains(rec["error"].(string), "422") || !strings.Contains(rec["error"].(string), githubtest.DocRedeliver) {
		t.Fatalf("record of the refused delivery: %v", rec)
	}
	if rec := e.record(t, "newest-502"); rec["state"] != "pending" || rec["error_class"] != wire.ReconcilerErrorRedelivery {
		t.Fatalf("record of the delivery whose request failed: %v", rec)
	}
	for class, want := range map[string]float64{wire.ReconcilerErrorRefused: 1, wire.ReconcilerErrorRedelivery: 1} {
		if got := ingesttest.Metric(t, reg, "pulsehub_ingester_github_reconcile_errors_total", map[string]string{"class": class}); got != want {
			t.Errorf("errors{class=%s} = %v, want %v", class, got, want)
		}
	}
	if cp := e.checkpoint(t); cp.Failed != 2 || cp.Pending != 1 || cp.Refused != 1 {
		t.Fatalf("checkpoint %+v", cp)
	}

	// The failed request's backoff (10 minutes) passes on the hub's clock:
	// it is asked again, and the refused one still is not.
	e.shift.Store(int64(11 * time.Minute))
	if _, err := e.pass(t, r); err != nil {
		t.Fatal(err)
	}
	if got := e.gh.Redelivered(); !slices.Equal(got, []string{"older", "newest-502"}) || len(e.gh.Refused()) != 1 {
		t.Fatalf("after the backoff: redelivered %v, refused %v", got, e.gh.Refused())
	}
}

// The first pass's errors reach the checkpoint, the health monitor's
// view: one refusal is an error about one delivery, and the pass is
// complete.
func TestARefusalIsOnTheHealthPageThroughTheCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "refused", DeliveredAt: ago(20 * time.Minute), StatusCode: 0, Event: "push"})
	e.gh.Refuse("refused")
	if _, err := e.pass(t, e.reconciler(t, nil)); err != nil {
		t.Fatal(err)
	}
	cp := e.checkpoint(t)
	if cp.At.IsZero() || cp.Errors != 1 || cp.ErrorClass != wire.ReconcilerErrorRefused || !strings.Contains(cp.Error, "refused") {
		t.Fatalf("checkpoint %+v", cp)
	}
}
