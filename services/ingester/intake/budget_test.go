package intake_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/prometheus/client_golang/prometheus"
)

func TestBudgetReserve(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name     string
		size     int64 // the budget; 0 = unlimited
		held     int64 // reserved before
		n        int64 // asked for
		ctx      context.Context
		busy     bool  // refused with ErrBusy
		taken    int64 // reserved by the call when not busy
		canceled bool  // the error also says the context was canceled
	}{
		{name: "room", size: 10, held: 4, n: 6, taken: 6},
		{name: "no room", size: 10, held: 4, n: 7, busy: true},
		{name: "larger than the budget, alone", size: 10, n: 25, taken: 10},
		{name: "larger than the budget, not alone", size: 10, held: 1, n: 25, busy: true},
		{name: "nothing asked", size: 10, held: 10, n: 0},
		{name: "unlimited still counts", size: 0, held: 1 << 40, n: 1 << 40, taken: 1 << 40},
		{name: "client gone while waiting", size: 10, held: 10, n: 1, ctx: canceled, busy: true, canceled: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := intake.NewMetrics(reg)
			b := intake.NewBudget(c.size, m)
			releaseHeld, err := b.Reserve(t.Context(), c.held)
			if err != nil {
				t.Fatal(err)
			}
			ctx := c.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			release, err := b.Reserve(ctx, c.n)
			if got := errors.Is(err, intake.ErrBusy); got != c.busy || errors.Is(err, context.Canceled) != c.canceled {
				t.Fatalf("err %v, want busy %v canceled %v", err, c.busy, c.canceled)
			}
			if c.busy {
				if release != nil || b.InUse() != c.held {
					t.Fatalf("a refused reservation holds %d bytes", b.InUse()-c.held)
				}
				releaseHeld()
			} else {
				if got := b.InUse() - c.held; got != c.taken {
					t.Fatalf("took %d bytes, want %d", got, c.taken)
				}
				if got := gauge(t, reg, "pulsehub_ingester_body_bytes_in_flight"); got != float64(c.held+c.taken) {
					t.Fatalf("in-flight gauge %v, want %d", got, c.held+c.taken)
				}
				release()
				release() // a second call gives nothing back twice
				releaseHeld()
			}
			if b.InUse() != 0 || gauge(t, reg, "pulsehub_ingester_body_bytes_in_flight") != 0 {
				t.Fatalf("after release: %d in use", b.InUse())
			}
			if gauge(t, reg, "pulsehub_ingester_body_budget_bytes") != float64(c.size) || b.Size() != c.size {
				t.Fatalf("budget gauge %v, want %d", gauge(t, reg, "pulsehub_ingester_body_budget_bytes"), c.size)
			}
			if c.size > 0 {
				whole, err := b.Reserve(t.Context(), c.size) // the semaphore too is wholly free again
				if err != nil {
					t.Fatalf("the whole budget after release: %v", err)
				}
				whole()
			}
		})
	}
}

func TestNilBudgetBoundsNothing(t *testing.T) {
	var b *intake.Budget
	release, err := b.Reserve(t.Context(), 1<<40)
	if err != nil || b.InUse() != 0 || b.Size() != 0 {
		t.Fatal(err)
	}
	release()
	b = intake.NewBudget(-1, nil) // treated as unlimited, no metrics
	if release, err = b.Reserve(t.Context(), 5); err != nil || b.InUse() != 5 {
		t.Fatalf("%v %d", err, b.InUse())
	}
	release()
}

func TestEndpointReservesTheBodyUntilTheHandlerAnswers(t *testing.T) {
	cases := []struct {
		name          string
		contentLength int64
		want          int64
	}{
		{"announced length", 40, 40},
		{"unknown length takes the endpoint's limit, at most the budget", -1, 100},
		{"over the limit takes nothing (refused unread)", 2000, 0},
		{"empty body", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := intake.NewBudget(100, nil)
			var during int64
			ep := intake.Endpoint{Source: "test", MaxBody: 1000, Budget: b,
				Handle: func(http.ResponseWriter, *http.Request) intake.Result {
					during = b.InUse()
					return intake.Result{Status: http.StatusAccepted, Outcome: intake.OutcomeStored, Body: struct{}{}}
				}}
			r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("{}"))
			r.ContentLength = c.contentLength
			rec := httptest.NewRecorder()
			ep.ServeHTTP(rec, r)
			if rec.Code != http.StatusAccepted || during != c.want || b.InUse() != 0 {
				t.Fatalf("status %d, reserved %d during (want %d), %d after", rec.Code, during, c.want, b.InUse())
			}
		})
	}
}

func TestEndpointReleasesTheBudgetWhenTheHandlerPanics(t *testing.T) {
	b := intake.NewBudget(100, nil)
	ep := intake.Endpoint{Source: "test", MaxBody: 1000, Budget: b,
		Handle: func(http.ResponseWriter, *http.Request) intake.Result { panic("handler bug") }}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		ep.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("{}")))
	}()
	if b.InUse() != 0 {
		t.Fatalf("%d bytes held after a panic", b.InUse())
	}
}

func TestEndpointAnswers503WhenTheBudgetIsFull(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := intake.NewMetrics(reg)
	b := intake.NewBudget(100, m)
	var logs strings.Builder
	entered, proceed := make(chan struct{}), make(chan struct{})
	calls := 0
	ep := intake.Endpoint{Source: "test", Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: m, MaxBody: 1000, Budget: b,
		Handle: func(_ http.ResponseWriter, r *http.Request) intake.Result {
			calls++
			if r.Header.Get("X-Hold") != "" {
				close(entered)
				<-proceed
			}
			return intake.Result{Status: http.StatusAccepted, Outcome: intake.OutcomeStored, Body: struct{}{}}
		}}
	post := func(size int, hold bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(strings.Repeat("x", size)))
		if hold {
			r.Header.Set("X-Hold", "1")
		}
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, r)
		return rec
	}
	held := make(chan *httptest.ResponseRecorder)
	go func() { held <- post(80, true) }()
	<-entered

	rec := post(30, false)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), "the ingester is receiving too many request bodies at once") {
		t.Fatalf("over the budget: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if calls != 1 {
		t.Fatalf("the handler ran %d times: a refused request reached it", calls)
	}
	if rec := post(20, false); rec.Code != http.StatusAccepted {
		t.Fatalf("within the budget: %d", rec.Code)
	}
	close(proceed)
	if rec := <-held; rec.Code != http.StatusAccepted || b.InUse() != 0 {
		t.Fatalf("held request: %d, %d bytes still in use", rec.Code, b.InUse())
	}
	if got := counter(t, reg, "test", "503", intake.OutcomeBusy); got != 1 {
		t.Fatalf("requests_total{503,busy} = %v", got)
	}
	if !strings.Contains(logs.String(), `"outcome":"busy"`) || !strings.Contains(logs.String(), "request body budget full") {
		t.Fatalf("busy not logged with its reason:\n%s", logs.String())
	}
}

// BenchmarkBudgetReserve is the cost the budget adds to a request that
// finds room (the common case), one goroutine per core:
//
//	go test -run '^$' -bench BudgetReserve ./intake
func BenchmarkBudgetReserve(b *testing.B) {
	budget := intake.NewBudget(intake.DefaultBudgetBytes, intake.NewMetrics(nil))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, err := budget.Reserve(context.Background(), 7<<10)
			if err != nil {
				b.Error(err)
				return
			}
			release()
		}
	})
}
