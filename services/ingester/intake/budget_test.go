package intake_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/prometheus/client_golang/prometheus"
)

func TestBudgetHold(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name     string
		size     int64   // the budget; 0 = unlimited
		held     int64   // held by another request before
		grow     []int64 // the hold is grown to each in turn
		ctx      context.Context
		busy     bool  // the last growth is refused with ErrBusy
		want     int64 // held at the end
		canceled bool  // the error also says the context was canceled
	}{
		{name: "room", size: 10, held: 4, grow: []int64{6}, want: 6},
		{name: "grows in steps", size: 10, held: 4, grow: []int64{2, 4, 6}, want: 6},
		{name: "never shrinks", size: 10, grow: []int64{5, 3}, want: 5},
		{name: "no room", size: 10, held: 4, grow: []int64{7}, busy: true},
		{name: "no room for the next step keeps what it had", size: 10, held: 4, grow: []int64{3, 7}, busy: true, want: 3},
		{name: "larger than the budget, alone", size: 10, grow: []int64{4, 25}, want: 10},
		{name: "larger than the budget, not alone", size: 10, held: 1, grow: []int64{25}, busy: true},
		{name: "nothing asked", size: 10, held: 10, grow: []int64{0}},
		{name: "unlimited still counts", size: 0, held: 1 << 40, grow: []int64{1 << 40}, want: 1 << 40},
		{name: "client gone while waiting", size: 10, held: 10, grow: []int64{1}, ctx: canceled, busy: true, canceled: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			b := intake.NewBudget(c.size, intake.NewMetrics(reg))
			other := b.Hold()
			if err := other.Grow(t.Context(), c.held); err != nil {
				t.Fatal(err)
			}
			ctx := c.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			h := b.Hold()
			var err error
			for _, n := range c.grow {
				if err = h.Grow(ctx, n); err != nil {
					break
				}
			}
			if got := errors.Is(err, intake.ErrBusy); got != c.busy || errors.Is(err, context.Canceled) != c.canceled {
				t.Fatalf("err %v, want busy %v canceled %v", err, c.busy, c.canceled)
			}
			if h.Held() != c.want || b.InUse() != c.held+c.want {
				t.Fatalf("holds %d (budget %d in use), want %d", h.Held(), b.InUse(), c.want)
			}
			if got := gauge(t, reg, "pulsehub_ingester_body_bytes_in_flight"); got != float64(c.held+c.want) {
				t.Fatalf("in-flight gauge %v, want %d", got, c.held+c.want)
			}
			h.Release()
			h.Release() // a second call gives nothing back twice
			other.Release()
			if b.InUse() != 0 || gauge(t, reg, "pulsehub_ingester_body_bytes_in_flight") != 0 {
				t.Fatalf("after release: %d in use", b.InUse())
			}
			if gauge(t, reg, "pulsehub_ingester_body_budget_bytes") != float64(c.size) || b.Size() != c.size {
				t.Fatalf("budget gauge %v, want %d", gauge(t, reg, "pulsehub_ingester_body_budget_bytes"), c.size)
			}
			if c.size > 0 {
				whole := b.Hold() // the semaphore too is wholly free again
				if err := whole.Grow(t.Context(), c.size); err != nil {
					t.Fatalf("the whole budget after release: %v", err)
				}
				whole.Release()
			}
		})
	}
}

func TestNilBudgetBoundsNothing(t *testing.T) {
	var b *intake.Budget
	h := b.Hold()
	if err := h.Grow(t.Context(), 1<<40); err != nil || b.InUse() != 0 || b.Size() != 0 {
		t.Fatal(err)
	}
	h.Release()
	b = intake.NewBudget(-1, nil) // treated as unlimited, no metrics
	h = b.Hold()
	if err := h.Grow(t.Context(), 5); err != nil || b.InUse() != 5 {
		t.Fatalf("%v %d", err, b.InUse())
	}
	h.Release()
}

func TestEndpointHoldsWhatTheBodyNeedsAsItArrives(t *testing.T) {
	const limit = 32 << 20
	cases := []struct {
		name    string
		size    int
		chunked bool
		want    int64 // held once the body has been read
	}{
		{"announced, small: one piece of its size", 7324, false, 7324},
		{"announced: doubles up to exactly its length", 100 << 10, false, 100 << 10},
		{"announced, large", 25 << 20, false, 25 << 20},
		{"chunked, small: the first piece", 100, true, intake.FirstPiece},
		{"chunked, exactly the first piece: no growth to find the end", intake.FirstPiece, true, intake.FirstPiece},
		{"chunked: doubles", 100 << 10, true, 128 << 10},
		{"chunked, large: steps of at most MaxStep", 20 << 20, true, 24 << 20},
		{"empty", 0, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := intake.NewBudget(64<<20, nil)
			var held int64
			var got []byte
			ep := intake.Endpoint{Source: "test", Bodies: intake.BodyRules{Budget: b},
				Handle: func(w http.ResponseWriter, r *http.Request) intake.Result {
					body, res, ok := intake.ReadBody(w, r, limit)
					if !ok {
						return res
					}
					held, got = b.InUse(), body
					return intake.Result{Status: http.StatusAccepted, Outcome: intake.OutcomeStored, Body: struct{}{}}
				}}
			body := bytes.Repeat([]byte("x"), c.size)
			var rd io.Reader = bytes.NewReader(body)
			if c.chunked {
				rd = io.MultiReader(rd) // hides the length
			}
			r := httptest.NewRequest(http.MethodPost, "/x", rd)
			if c.chunked {
				r.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			ep.ServeHTTP(rec, r)
			if rec.Code != http.StatusAccepted || !bytes.Equal(got, body) {
				t.Fatalf("status %d %s, %d of %d bytes read", rec.Code, rec.Body, len(got), c.size)
			}
			if held != c.want || b.InUse() != 0 {
				t.Fatalf("held %d while handling (want %d), %d after", held, c.want, b.InUse())
			}
		})
	}
}

func TestABodyWithNoRoomToGrowIs503AndGivesBackWhatItHeld(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := intake.NewMetrics(reg)
	b := intake.NewBudget(1<<20, m)
	other := b.Hold()
	if err := other.Grow(t.Context(), 1<<20-100<<10); err != nil { // 100 KiB left
		t.Fatal(err)
	}
	calls := 0
	ep := intake.Endpoint{Source: "test", Metrics: m, Bodies: intake.BodyRules{Budget: b},
		Handle: func(w http.ResponseWriter, r *http.Request) intake.Result {
			calls++
			if _, res, ok := intake.ReadBody(w, r, 1<<20); !ok {
				return res
			}
			return intake.Result{Status: http.StatusAccepted, Outcome: intake.OutcomeStored, Body: struct{}{}}
		}}
	post := func(size int) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader(bytes.Repeat([]byte("x"), size))))
		return rec
	}
	// 200 KiB: 16, 32, 64 KiB fit, 128 does not.
	rec := post(200 << 10)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" || rec.Header().Get("Connection") != "close" ||
		!strings.Contains(rec.Body.String(), "too many request bodies at once") {
		t.Fatalf("no room to grow: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if b.InUse() != 1<<20-100<<10 {
		t.Fatalf("%d bytes in use after the refusal", b.InUse())
	}
	if rec := post(90 << 10); rec.Code != http.StatusAccepted {
		t.Fatalf("within the budget: %d", rec.Code)
	}
	other.Release()
	if got := counter(t, reg, "test", "503", intake.OutcomeBusy); got != 1 || calls != 2 || b.InUse() != 0 {
		t.Fatalf("requests_total{503,busy} = %v, %d calls, %d in use", got, calls, b.InUse())
	}
}

func TestEndpointReleasesTheBudgetWhenTheHandlerPanics(t *testing.T) {
	b := intake.NewBudget(100, nil)
	ep := intake.Endpoint{Source: "test", Bodies: intake.BodyRules{Budget: b},
		Handle: func(w http.ResponseWriter, r *http.Request) intake.Result {
			if _, _, ok := intake.ReadBody(w, r, 1000); ok && b.InUse() > 0 {
				panic("handler bug")
			}
			return intake.Result{}
		}}
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
	ep := intake.Endpoint{Source: "test", Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: m, Bodies: intake.BodyRules{Budget: b},
		Handle: func(w http.ResponseWriter, r *http.Request) intake.Result {
			if _, res, ok := intake.ReadBody(w, r, 1000); !ok {
				return res
			}
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

// BenchmarkBudgetHold is the cost the budget adds to a request that finds
// room (the common case), one goroutine per core:
//
//	go test -run '^$' -bench BudgetHold ./intake
func BenchmarkBudgetHold(b *testing.B) {
	budget := intake.NewBudget(intake.DefaultBudgetBytes, intake.NewMetrics(nil))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h := budget.Hold()
			if err := h.Grow(context.Background(), 7<<10); err != nil {
				b.Error(err)
				return
			}
			h.Release()
		}
	})
}
