package reconcile_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
)

// Issue 19, point 6: redelivery requests are bounded per pass and per
// minute (evenly spaced), newest first, and a GUID asked for is not asked
// again before its backoff, even while its redelivery is not listed yet.
func TestRedeliveriesArePacedAndBounded(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := range 10 {
		guid := fmt.Sprintf("failed-%d", i)
		e.gh.Add(githubtest.Delivery{GUID: guid, DeliveredAt: ago(time.Duration(60-i) * time.Minute), StatusCode: 0, Event: "push"})
		want = append([]string{guid}, want...) // newest first
	}
	e.gh.SetListDelay(time.Hour) // GitHub has not listed any redelivery yet
	r := e.reconciler(t, nil)
	r.MaxPerPass, r.MaxPerMinute = 4, 600 // 100 ms apart
	for pass, n := range []int{4, 8, 10, 10} {
		if _, err := e.pass(t, r); err != nil {
			t.Fatal(err)
		}
		if got := e.gh.Redelivered(); !slices.Equal(got, want[:n]) {
			t.Fatalf("after pass %d: redelivered %v, want %v", pass+1, got, want[:n])
		}
	}
	posts := e.gh.Posts()
	for i := 1; i < len(posts); i++ {
		if gap := posts[i].Sub(posts[i-1]); gap < 90*time.Millisecond { // 100 ms, less the fake's clock reading
			t.Fatalf("requests %d and %d came %s apart, want at least 100ms (600 a minute)", i, i+1, gap)
		}
	}
}

// A redelivery whose new attempt fails too (the hub is still down) is
// asked again after 10 minutes, then 20, then 40: a few requests per
// GUID over an outage, not one per pass.
func TestAFailedDeliveryIsAskedAgainWithABackoffThatDoubles(t *testing.T) {
	e := newEnv(t)
	e.gh.SetListDelay(0)
	e.gh.SetRedeliveryStatus(http.StatusServiceUnavailable)
	e.gh.Add(githubtest.Delivery{GUID: "down", DeliveredAt: ago(time.Minute), StatusCode: 0, Event: "push"})
	r := e.reconciler(t, nil)
	for _, step := range []struct {
		at    time.Duration // on the hub's clock
		asked int
	}{{0, 1}, {5 * time.Minute, 1}, {9 * time.Minute, 1}, {11 * time.Minute, 2}, {25 * time.Minute, 2}, {32 * time.Minute, 3}, {70 * time.Minute, 3}, {73 * time.Minute, 4}} {
		e.shift.Store(int64(step.at))
		if _, err := e.pass(t, r); err != nil {
			t.Fatal(err)
		}
		if got := len(e.gh.Redelivered()); got != step.asked {
			t.Fatalf("at +%s: asked %d times, want %d", step.at, got, step.asked)
		}
	}
}

// GitHub's secondary rate limit (403 or 429 with Retry-After): the pass
// stops asking, the checkpoint says so, and no request at all goes to
// GitHub before Retry-After has passed; then the work goes on.
func TestASecondaryRateLimitStopsRequestsForRetryAfter(t *testing.T) {
	for _, code := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			e := newEnv(t)
			e.gh.Add(githubtest.Delivery{GUID: "a", DeliveredAt: ago(20 * time.Minute), StatusCode: 0, Event: "push"})
			e.gh.Add(githubtest.Delivery{GUID: "b", DeliveredAt: ago(10 * time.Minute), StatusCode: 0, Event: "push"})
			e.gh.SetSecondaryLimit(1, code, 2*time.Minute) // one redelivery request a minute
			r := e.reconciler(t, nil)
			if _, err := e.pass(t, r); err != nil {
				t.Fatal(err)
			}
			cp := e.checkpoint(t)
			if !slices.Equal(e.gh.Redelivered(), []string{"b"}) || len(e.gh.Posts()) != 2 ||
				cp.ErrorClass != wire.ReconcilerErrorRateLimited || cp.PausedUntil.Before(e.now().Add(time.Minute)) {
				t.Fatalf("redelivered %v after %d requests, checkpoint %+v", e.gh.Redelivered(), len(e.gh.Posts()), cp)
			}
			lists := e.gh.ListCalls()
			if _, err := e.pass(t, e.reconciler(t, nil)); err == nil { // a fresh replica reads the pause from the checkpoint
				t.Fatal("a pass during the pause succeeded")
			}
			if e.gh.ListCalls() != lists || len(e.gh.Posts()) != 2 {
				t.Fatalf("requests during the pause: %d list calls (had %d), %d redelivery requests", e.gh.ListCalls(), lists, len(e.gh.Posts()))
			}
			// After Retry-After (and a minute for the fake's own window), a
			// fresh replica: go-github's client keeps its own pause by the
			// real clock.
			e.shift.Store(int64(3 * time.Minute))
			e.gh.SetClock(func() time.Time { return time.Now().Add(time.Minute + time.Second) })
			if _, err := e.pass(t, e.reconciler(t, nil)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.gh.Redelivered(), []string{"b", "a"}) {
				t.Fatalf("after the pause: redelivered %v", e.gh.Redelivered())
			}
		})
	}
}

// X-RateLimit-*: with little of the hour's budget left, the reconciler
// makes no request before X-RateLimit-Reset.
func TestTheRateLimitHeadersAreHonoured(t *testing.T) {
	e := newEnv(t)
	e.gh.Add(githubtest.Delivery{GUID: "a", DeliveredAt: ago(20 * time.Minute), StatusCode: 0, Event: "push"})
	reset := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	e.gh.SetRateLimit(100, 95, reset)
	if _, err := e.pass(t, e.reconciler(t, nil)); err != nil {
		t.Fatal(err)
	}
	cp := e.checkpoint(t)
	if e.gh.ListCalls() != 1 || len(e.gh.Posts()) != 0 || !cp.PausedUntil.Equal(reset) || cp.ErrorClass != wire.ReconcilerErrorRateLimited {
		t.Fatalf("%d list calls, %d redelivery requests with 4 of 100 requests left; checkpoint %+v", e.gh.ListCalls(), len(e.gh.Posts()), cp)
	}
	if _, err := e.pass(t, e.reconciler(t, nil)); err == nil || e.gh.ListCalls() != 1 {
		t.Fatalf("before the reset: %v, %d list calls", err, e.gh.ListCalls())
	}
	if rec := e.record(t, "a"); rec == nil || rec["asked"] != 0.0 {
		t.Fatalf("the delivery waiting for the reset: %v", rec)
	}
}
