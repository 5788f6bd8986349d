package reconcile_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
)

// Issue 19, point 2: a listing cut short by the page budget loses no
// failure. 501 newer successful deliveries, one page each, put the old
// failure beyond one pass's pages: the checkpoint stays before it until
// later passes have listed it, and it is redelivered.
func TestThePageBudgetLosesNoFailure(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "old-failure", DeliveredAt: ago(5 * time.Hour), StatusCode: 0, Event: "push"})
	base := ago(4 * time.Hour)
	for i := range 501 {
		e.gh.Add(githubtest.Delivery{GUID: fmt.Sprintf("ok-%03d", i), DeliveredAt: base.Add(time.Duration(i) * time.Second), StatusCode: 202, Event: "push"})
	}
	r := e.reconciler(t, nil)
	r.PageSize = 1
	if _, err := e.pass(t, r); err != nil {
		t.Fatal(err)
	}
	if cp := e.checkpoint(t); !cp.Since.IsZero() && !cp.Since.Before(ago(5*time.Hour)) {
		t.Fatalf("after a pass cut short the checkpoint moved past the unlisted failure: %+v", cp)
	}
	for pass := 2; pass <= 10 && len(e.gh.Redelivered()) == 0; pass++ {
		if _, err := e.pass(t, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.gh.Redelivered(); !slices.Equal(got, []string{"old-failure"}) {
		t.Fatalf("redelivered %v: the failure beyond the page budget was lost", got)
	}
	if cp := e.checkpoint(t); cp.BacklogCursor != "" || cp.Since.Before(ago(time.Minute)) {
		t.Fatalf("after the backlog was listed: %+v", cp)
	}
}

// Issue 19, point 3: the lookback keeps a margin below GitHub's 72 hours,
// so a hub clock a quarter of an hour behind GitHub's, and a list that
// still shows deliveries GitHub no longer redelivers, cost no refused
// request.
func TestTheLookbackKeepsAMarginBelowGitHubsRetention(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "past-retention", DeliveredAt: ago(72*time.Hour + 10*time.Minute), StatusCode: 0, Event: "push"})
	e.gh.Add(githubtest.Delivery{GUID: "at-the-edge", DeliveredAt: ago(71*time.Hour + 55*time.Minute), StatusCode: 0, Event: "push"})
	e.gh.Add(githubtest.Delivery{GUID: "fresh", DeliveredAt: ago(time.Hour), StatusCode: 0, Event: "push"})
	e.shift.Store(int64(-15 * time.Minute))
	if _, err := e.pass(t, e.reconciler(t, nil)); err != nil {
		t.Fatal(err)
	}
	if got := e.gh.Redelivered(); !slices.Equal(got, []string{"fresh"}) || len(e.gh.Refused()) != 0 {
		t.Fatalf("redelivered %v, refused %v: want only the fresh delivery and no refusal", got, e.gh.Refused())
	}
}

// A failure that waits (backoff, budget) past the lookback is dropped,
// not asked: by then GitHub is about to refuse it, and the GITHUB
// duplicate window no longer covers it.
func TestAFailureOlderThanTheLookbackIsDroppedNotAsked(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "aging", DeliveredAt: ago(69*time.Hour + 55*time.Minute), StatusCode: 0, Event: "push"})
	e.gh.FailRedeliver(1)
	r := e.reconciler(t, nil)
	if rep, err := e.pass(t, r); err != nil || len(rep.Retrying) != 1 {
		t.Fatalf("first pass: %v %+v", err, rep)
	}
	e.shift.Store(int64(11 * time.Minute))
	rep, err := e.pass(t, r)
	if err != nil || !slices.Equal(rep.Expired, []string{"aging"}) || len(e.gh.Redelivered()) != 0 {
		t.Fatalf("second pass: %v, report %+v, redelivered %v", err, rep, e.gh.Redelivered())
	}
	if e.record(t, "aging") != nil || e.checkpoint(t).Failed != 0 {
		t.Fatal("the expired record was kept")
	}
}

// Issue 19, point 5: a delivery GitHub lists some minutes after its
// delivered_at, after a pass has gone by, is seen by the next pass.
func TestADeliveryListedLateIsStillSeen(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "on-time", DeliveredAt: ago(time.Hour), StatusCode: 202, Event: "push"})
	r := e.reconciler(t, nil)
	if _, err := e.pass(t, r); err != nil {
		t.Fatal(err)
	}
	// Delivered (and failed) five minutes before the pass, listed after it.
	e.gh.Add(githubtest.Delivery{GUID: "listed-late", DeliveredAt: ago(5 * time.Minute), StatusCode: 0, Event: "push"})
	if _, err := e.pass(t, r); err != nil {
		t.Fatal(err)
	}
	if got := e.gh.Redelivered(); !slices.Equal(got, []string{"listed-late"}) {
		t.Fatalf("redelivered %v: the late-listed failure was missed", got)
	}
}
