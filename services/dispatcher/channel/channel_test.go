package channel

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/dispatcher/call"
)

func busy(t *testing.T, err error) *Busy {
	t.Helper()
	var b *Busy
	if !errors.As(err, &b) {
		t.Fatalf("err = %v, want *Busy", err)
	}
	return b
}

func TestSaturatedChannelSaysWaitInsteadOfBlocking(t *testing.T) {
	c := New("ocr", Config{URL: "http://x", Capacity: 2}, Options{SlotWait: time.Millisecond, BusyDelay: 100 * time.Millisecond})
	t1, err := c.Admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c.Admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := busy(t, func() error { _, err := c.Admit(context.Background()); return err }())
	if b.Reason != "saturated" || b.Delay < 100*time.Millisecond || b.Delay > 120*time.Millisecond || c.InFlight() != 2 {
		t.Fatalf("busy %+v, in flight %d", b, c.InFlight())
	}
	t1.Cancel()
	t1.Cancel() // twice is harmless
	if c.InFlight() != 1 {
		t.Fatalf("in flight %d after a cancel", c.InFlight())
	}
	t2.Cancel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	full := New("x", Config{URL: "http://x", Capacity: 1}, Options{SlotWait: time.Hour})
	if _, err := full.Admit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := full.Admit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("admit with a done ctx: %v", err)
	}
}

func TestBreakerOpensHalfOpensAndCloses(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	c := New("ocr", Config{URL: "http://x", Capacity: 4, Breaker: BreakerConfig{ConsecutiveFailures: 2, CoolDown: 30 * time.Millisecond}},
		Options{OnStateChange: func(svc string, from, to wire.BreakerState) {
			mu.Lock()
			changes = append(changes, string(from+">"+to))
			mu.Unlock()
		}})
	fail := func(err error) {
		t.Helper()
		tk, aerr := c.Admit(context.Background())
		if aerr != nil {
			t.Fatal(aerr)
		}
		tk.finish(err)
	}
	fail(events.Permanentf("422")) // the service is up: no failure
	fail(context.Canceled)         // our shutdown: not counted
	fail(events.Transient(errors.New("502")))
	if c.State() != wire.BreakerClosed || c.Paused() != 0 {
		t.Fatalf("opened after one failure, or paused (%s) while closed", c.Paused())
	}
	fail(events.Transient(errors.New("502")))
	if c.State() != wire.BreakerOpen {
		t.Fatalf("state %s after 2 consecutive failures", c.State())
	}
	if p := c.Paused(); p <= 0 || p > 30*time.Millisecond {
		t.Fatalf("paused %s while open, want the rest of the 30ms cool-down", p)
	}
	b := busy(t, func() error { _, err := c.Admit(context.Background()); return err }())
	if b.Reason != "breaker open" || b.Delay > 40*time.Millisecond {
		t.Fatalf("busy %+v", b)
	}
	if s := c.Status(); s.State != wire.BreakerOpen || s.OpenedAt.IsZero() {
		t.Fatalf("status %+v", s)
	}
	var probe *Ticket
	natstest.WaitFor(t, 5*time.Second, "a half-open probe after the cool-down", func() bool {
		var err error
		probe, err = c.Admit(context.Background())
		return err == nil
	})
	b = busy(t, func() error { _, err := c.Admit(context.Background()); return err }())
	if b.Reason != "breaker half-open" || c.State() != wire.BreakerHalfOpen {
		t.Fatalf("second call while half-open: %+v", b)
	}
	if p := c.Paused(); p != probePause {
		t.Fatalf("paused %s while the half-open probe is under way, want %s", p, probePause)
	}
	probe.finish(nil)
	if c.State() != wire.BreakerClosed || c.Paused() != 0 {
		t.Fatalf("state %s, paused %s after a good probe", c.State(), c.Paused())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 3 || changes[0] != "closed>open" || changes[1] != "open>half-open" || changes[2] != "half-open>closed" {
		t.Fatalf("changes %v", changes)
	}
}

func TestBreakerOpensOnAFailureRatio(t *testing.T) {
	c := New("llm", Config{URL: "http://x", Breaker: BreakerConfig{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 4, Window: time.Minute}}, Options{})
	for i, failed := range []bool{false, true, false, true} {
		tk, err := c.Admit(context.Background())
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if failed {
			tk.finish(events.Transient(errors.New("503")))
		} else {
			tk.finish(nil)
		}
	}
	if c.State() != wire.BreakerOpen {
		t.Fatalf("state %s after 2 of 4 failed", c.State())
	}
}

func TestDoSendsTheAuthHeaderAndReportsTheOutcome(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("X-Key")
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	c := New("ocr", Config{URL: srv.URL, AuthHeader: "X-Key", Auth: config.NewSecret("k1"), Breaker: BreakerConfig{ConsecutiveFailures: 1}}, Options{})
	tk, err := c.Admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Do(context.Background(), call.Request{Path: "/x"}); events.IsPermanent(err) || err == nil {
		t.Fatalf("err %v", err)
	}
	if auth != "k1" || c.State() != wire.BreakerOpen || c.InFlight() != 0 {
		t.Fatalf("auth %q state %s in flight %d", auth, c.State(), c.InFlight())
	}
}

func TestDoCutShortByOurShutdownDoesNotCount(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	c := New("ocr", Config{URL: srv.URL, Breaker: BreakerConfig{ConsecutiveFailures: 1}}, Options{})
	tk, err := c.Admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	stop, stopNow := context.WithCancel(ctx)
	go func() { <-ctx.Done(); stopNow() }()
	_, err = tk.Do(stop, call.Request{})
	if !errors.Is(err, context.Canceled) || c.State() != wire.BreakerClosed {
		t.Fatalf("err %v, state %s", err, c.State())
	}
	// A call that times out on the service's own timeout does count.
	slow := New("slow", Config{URL: srv.URL, Timeout: 20 * time.Millisecond, Breaker: BreakerConfig{ConsecutiveFailures: 1}}, Options{})
	tk, _ = slow.Admit(context.Background())
	if _, err := tk.Do(context.Background(), call.Request{}); !errors.Is(err, context.DeadlineExceeded) || slow.State() != wire.BreakerOpen {
		t.Fatalf("err %v, state %s", err, slow.State())
	}
}

func TestDefaultsAndTasks(t *testing.T) {
	c := Config{Tasks: map[string]Task{"scan": {Path: "/v2/scan", Method: "put", Response: "text"}}}.WithDefaults()
	if c.AuthHeader != "Authorization" || c.Timeout != 30*time.Second || c.Capacity != 4 || c.MaxResponseBytes != 8<<20 ||
		c.Breaker != (BreakerConfig{5, 0.5, time.Minute, 10, 30 * time.Second}) {
		t.Fatalf("defaults %+v", c)
	}
	if got := c.TaskFor("scan"); got != (Task{Path: "/v2/scan", Method: "PUT", Response: "text"}) {
		t.Fatalf("scan %+v", got)
	}
	if got := c.TaskFor("extract"); got != (Task{Path: "/extract", Method: "POST", Response: "auto"}) {
		t.Fatalf("extract %+v", got)
	}
	for state, v := range map[wire.BreakerState]float64{wire.BreakerClosed: 0, wire.BreakerHalfOpen: 1, wire.BreakerOpen: 2} {
		if StateValue(state) != v {
			t.Errorf("StateValue(%s) = %v", state, StateValue(state))
		}
	}
	if ValidName("a.b") || ValidName("") || !ValidName("ocr-2_x") {
		t.Fatal("ValidName")
	}
}
