package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
)

// recorder is an ApplyFunc that records its calls and answers with
// outcome (nil: every plan applied).
type recorder struct {
	mu      sync.Mutex
	calls   [][]int // the Seq of each call's plans
	outcome func(plans []*plan.Plan) []error
}

func (r *recorder) apply(_ context.Context, plans []*plan.Plan) []error {
	seqs := make([]int, len(plans))
	for i, p := range plans {
		seqs[i] = int(p.Seq)
	}
	r.mu.Lock()
	r.calls = append(r.calls, seqs)
	r.mu.Unlock()
	if r.outcome != nil {
		return r.outcome(plans)
	}
	return make([]error, len(plans))
}

func (r *recorder) snapshot() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// upsert is a plan delivered while more messages waited in the stream
// (Backlog 1), so the batcher lingers for them.
func upsert(key int, seq uint64) *plan.Plan {
	return &plan.Plan{Route: "r", Instance: "default", Model: "project.task", Op: "upsert", Seq: seq, Backlog: 1,
		Key: &plan.Key{Field: "x_github_issue_id", Value: key}}
}

// submitAll submits plans at once and returns their outcomes in order.
func submitAll(t *testing.T, b *Batcher, plans ...*plan.Plan) []error {
	t.Helper()
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Submit(context.Background(), p)
		}()
	}
	wg.Wait()
	return errs
}

func TestFlushesWhenTheBatchIsFull(t *testing.T) {
	r := &recorder{}
	var mu sync.Mutex
	var sizes []int
	b := New(r.apply, 5, time.Hour, func(route, op string, n int) {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, n)
	})
	defer b.Close()
	plans := make([]*plan.Plan, 10)
	for i := range plans {
		plans[i] = upsert(i, uint64(i))
	}
	for i, err := range submitAll(t, b, plans...) {
		if err != nil {
			t.Fatalf("plan %d: %v", i, err)
		}
	}
	if calls := r.snapshot(); len(calls) != 2 || len(calls[0]) != 5 || len(calls[1]) != 5 {
		t.Fatalf("calls = %v", calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(sizes, []int{5, 5}) {
		t.Errorf("observed sizes %v", sizes)
	}
}

func TestFlushesAPartialBatchAfterTheLinger(t *testing.T) {
	r := &recorder{}
	b := New(r.apply, 100, 5*time.Millisecond, nil)
	defer b.Close()
	submitAll(t, b, upsert(1, 1), upsert(2, 2), upsert(3, 3))
	calls := r.snapshot()
	total := 0
	for _, c := range calls {
		total += len(c)
	}
	if total != 3 || len(calls) > 3 {
		t.Fatalf("calls = %v", calls)
	}
}

func TestPlansOfDifferentBatchKeysAreNotMixed(t *testing.T) {
	r := &recorder{}
	b := New(r.apply, 2, time.Hour, nil)
	defer b.Close()
	other := upsert(2, 2)
	other.Model = "res.partner"
	other2 := upsert(3, 3)
	other2.Model = "res.partner"
	submitAll(t, b, upsert(1, 1), other, upsert(4, 4), other2)
	for _, c := range r.snapshot() {
		if !slices.Equal(c, []int{1, 4}) && !slices.Equal(c, []int{4, 1}) && !slices.Equal(c, []int{2, 3}) && !slices.Equal(c, []int{3, 2}) {
			t.Fatalf("mixed call %v in %v", c, r.snapshot())
		}
	}
}

var errBad = &events.Error{Kind: events.KindPermanent, Err: errors.New("odoo: fault 2: ValidationError: bad record")}

func TestIsolatedPermanentFaultFailsOnlyTheBadPlan(t *testing.T) {
	r := &recorder{outcome: func(plans []*plan.Plan) []error {
		errs := make([]error, len(plans))
		for i, p := range plans {
			if p.Seq == 3 {
				return fillMarked(errs, errBad, Isolate)
			}
			_ = i
		}
		return errs
	}}
	b := New(r.apply, 5, time.Hour, nil)
	defer b.Close()
	errs := submitAll(t, b, upsert(1, 1), upsert(2, 2), upsert(3, 3), upsert(4, 4), upsert(5, 5))
	for i, err := range errs {
		if i == 2 {
			if !errors.Is(err, errBad) || IsIsolate(err) {
				t.Errorf("bad plan: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("plan %d: %v", i, err)
		}
	}
	if calls := r.snapshot(); len(calls) != 6 || !slices.Equal(calls[1], []int{1}) || !slices.Equal(calls[5], []int{5}) {
		t.Fatalf("calls = %v, want the batch then each plan alone in stream order", calls)
	}
}

func fillMarked(errs []error, err error, mark func(error) error) []error {
	for i := range errs {
		errs[i] = mark(err)
	}
	return errs
}

func TestPlansMarkedAgainAreAppliedTogetherOnceMore(t *testing.T) {
	r := &recorder{outcome: func(plans []*plan.Plan) []error {
		errs := make([]error, len(plans))
		bad := slices.IndexFunc(plans, func(p *plan.Plan) bool { return p.Seq == 2 })
		if bad < 0 || len(plans) == 1 {
			if bad >= 0 {
				errs[bad] = Isolate(errBad) // marked even alone: the batcher unmarks it
			}
			return errs
		}
		for i := range errs {
			errs[i] = Again(errors.New("rolled back"))
		}
		errs[bad] = Isolate(errBad)
		return errs
	}}
	b := New(r.apply, 4, time.Hour, nil)
	defer b.Close()
	errs := submitAll(t, b, upsert(1, 1), upsert(2, 2), upsert(3, 3), upsert(4, 4))
	if errs[0] != nil || errs[2] != nil || errs[3] != nil || !errors.Is(errs[1], errBad) || IsIsolate(errs[1]) {
		t.Fatalf("outcomes %v", errs)
	}
	calls := r.snapshot()
	if len(calls) != 3 || len(calls[1]) != 3 || !slices.Equal(calls[2], []int{2}) {
		t.Fatalf("calls = %v, want the batch, the 3 others together, the bad one alone", calls)
	}
}

func TestTransientFailureIsEveryPlansWithoutRetryingHere(t *testing.T) {
	busy := events.Transient(errors.New("odoo: could not serialize access"))
	r := &recorder{outcome: func(plans []*plan.Plan) []error {
		return fillMarked(make([]error, len(plans)), busy, func(e error) error { return e })
	}}
	b := New(r.apply, 3, time.Hour, nil)
	defer b.Close()
	for i, err := range submitAll(t, b, upsert(1, 1), upsert(2, 2), upsert(3, 3)) {
		if !errors.Is(err, busy) {
			t.Errorf("plan %d: %v", i, err)
		}
	}
	if n := len(r.snapshot()); n != 1 {
		t.Errorf("%d calls: the consume loop retries, not the batcher", n)
	}
}

// TestPlansOfOneRecordAreNeverInConcurrentCalls holds a call for key 1 in
// Odoo, submits another plan for key 1 and one for key 2: key 2 is written
// meanwhile, the second plan of key 1 only after the first call answered.
func TestPlansOfOneRecordAreNeverInConcurrentCalls(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	var mu sync.Mutex
	inFlight := map[int]int{}
	overlap := false
	apply := func(ctx context.Context, plans []*plan.Plan) []error {
		mu.Lock()
		for _, p := range plans {
			k := p.Key.Value.(int)
			if inFlight[k]++; inFlight[k] > 1 {
				overlap = true
			}
		}
		mu.Unlock()
		started <- struct{}{}
		if plans[0].Seq == 1 {
			<-release
		}
		mu.Lock()
		for _, p := range plans {
			inFlight[p.Key.Value.(int)]--
		}
		mu.Unlock()
		return make([]error, len(plans))
	}
	b := New(apply, 1, 0, nil)
	defer b.Close()
	first := make(chan error, 1)
	go func() { first <- b.Submit(context.Background(), upsert(1, 1)) }()
	<-started
	second := make(chan error, 1)
	go func() { second <- b.Submit(context.Background(), upsert(1, 2)) }()
	if err := b.Submit(context.Background(), upsert(2, 3)); err != nil {
		t.Fatal(err)
	}
	<-started // key 2's call
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if overlap {
		t.Fatal("two calls for key 1 were in flight at once")
	}
}

func TestSubmitReturnsWhenItsContextEnds(t *testing.T) {
	block := make(chan struct{})
	b := New(func(ctx context.Context, plans []*plan.Plan) []error {
		<-block
		return make([]error, len(plans))
	}, 1, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Submit(ctx, upsert(1, 1)) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	close(block)
	b.Close()
}

func TestCloseCancelsCallsInFlight(t *testing.T) {
	started := make(chan struct{})
	b := New(func(ctx context.Context, plans []*plan.Plan) []error {
		close(started)
		<-ctx.Done()
		return fillMarked(make([]error, len(plans)), ctx.Err(), func(e error) error { return e })
	}, 1, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = b.Submit(ctx, upsert(1, 1)) }()
	<-started
	cancel()
	b.Close() // returns only once the call ended: it was cancelled
}

func TestApplyAnsweringTheWrongNumberOfOutcomesIsABug(t *testing.T) {
	b := New(func(context.Context, []*plan.Plan) []error { return nil }, 1, 0, nil)
	defer func() {
		if p := recover(); p == nil || fmt.Sprint(p) != "batch: apply returned 0 outcomes for 1 plans" {
			t.Fatalf("recovered %v", p)
		}
	}()
	b.applyAll(context.Background(), []*plan.Plan{upsert(1, 1)})
}

func TestAnEarlierPlanOfARecordAlreadyWrittenByALaterOneIsSkipped(t *testing.T) {
	r := &recorder{}
	b := New(r.apply, 1, 0, nil)
	defer b.Close()
	with := func(p *plan.Plan, route string, fields ...string) *plan.Plan {
		p.Route, p.Values = route, map[string]any{}
		for _, f := range fields {
			p.Values[f] = "x"
		}
		return p
	}
	steps := []struct {
		p       *plan.Plan
		applied bool
	}{
		{with(upsert(1, 20), "r", "name", "description"), true},
		{with(upsert(1, 10), "r", "name"), false},         // stale: seq 20 wrote name
		{with(upsert(1, 11), "r", "name", "stage"), true}, // writes a field seq 20 did not
		{with(upsert(1, 12), "other", "name"), true},      // another route's events are not ordered with r's
		{with(upsert(1, 20), "r", "name"), true},          // the same event again (a replay): written again
		{with(upsert(2, 5), "r", "name"), true},           // another record
	}
	for i, s := range steps {
		before := len(r.snapshot())
		if err := b.Submit(context.Background(), s.p); err != nil {
			t.Fatal(err)
		}
		if applied := len(r.snapshot()) > before; applied != s.applied {
			t.Errorf("step %d (seq %d): applied %v, want %v", i, s.p.Seq, applied, s.applied)
		}
	}
}

func TestAnIdleBatcherFlushesAtOnceWhenNothingWaitsInTheStream(t *testing.T) {
	r := &recorder{}
	b := New(r.apply, 100, time.Hour, nil)
	defer b.Close()
	p := upsert(1, 1)
	p.Backlog = 0 // the last message of the stream: no other is coming
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Submit(ctx, p); err != nil {
		t.Fatalf("a lone plan waited for the hour-long linger: %v", err)
	}
	if calls := r.snapshot(); len(calls) != 1 {
		t.Fatalf("calls = %v", calls)
	}
}

// firstInFlight submits first (of Seq 1) to a Batcher of size and linger
// and waits until its call is in flight; the call ends when gate is
// closed, and its outcome goes to done.
func firstInFlight(t *testing.T, size int, linger time.Duration, first *plan.Plan) (b *Batcher, r *recorder, gate chan struct{}, done chan error) {
	t.Helper()
	gate = make(chan struct{})
	r = &recorder{}
	r.outcome = func(plans []*plan.Plan) []error {
		if plans[0].Seq == 1 {
			<-gate // Odoo busy with the first call
		}
		return make([]error, len(plans))
	}
	b = New(r.apply, size, linger, nil)
	t.Cleanup(b.Close)
	done = make(chan error, 1)
	go func() { done <- b.Submit(context.Background(), first) }()
	natstest.WaitFor(t, 10*time.Second, "the first call", func() bool { return len(r.snapshot()) == 1 })
	return b, r, gate, done
}

// While a call is in flight the next batch keeps growing: below half a
// batch, and when its consumer is not tracked (a replay's) so that it is
// never known complete.
func TestTheNextBatchGrowsWhileACallIsInFlight(t *testing.T) {
	for _, c := range []struct {
		name     string
		size, n  int
		consumer string
	}{{"below half a batch", 100, 20, ""}, {"an untracked consumer", 10, 6, "S/replay"}} {
		t.Run(c.name, func(t *testing.T) {
			first := upsert(1, 1)
			first.Backlog = 0
			b, r, gate, done := firstInFlight(t, c.size, time.Millisecond, first)
			rest := make([]*plan.Plan, c.n)
			for i := range rest {
				rest[i] = upsert(10+i, uint64(10+i))
				rest[i].Backlog, rest[i].Delivery = 0, plan.Delivery{Consumer: c.consumer, Seq: uint64(2 + i)}
			}
			outcome := make(chan []error, 1)
			go func() { outcome <- submitAll(t, b, rest...) }()
			// Gives a batcher that lingered only 1ms, or took them for
			// complete, the chance to send a second call beside the first.
			time.Sleep(50 * time.Millisecond)
			if calls := r.snapshot(); len(calls) != 1 {
				t.Fatalf("calls while the first was in flight: %v", calls)
			}
			close(gate)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for i, err := range <-outcome {
				if err != nil {
					t.Fatalf("plan %d: %v", i, err)
				}
			}
			if calls := r.snapshot(); len(calls) != 2 || len(calls[1]) != c.n {
				t.Fatalf("calls = %v, want the first alone, then the %d that came meanwhile together", calls, c.n)
			}
		})
	}
}

// A batch at least half full that nothing more is on its way for goes
// while the call before it is still in flight (its calls then queue
// behind it in Odoo), but not while a delivery before its newest plan has
// not reached the batcher.
func TestACompleteHalfBatchGoesBesideTheCallInFlight(t *testing.T) {
	delivered := func(p *plan.Plan, d uint64) *plan.Plan {
		p.Backlog, p.Delivery = 0, plan.Delivery{Consumer: "S/r", Seq: d}
		return p
	}
	b, r, gate, done := firstInFlight(t, 10, time.Hour, delivered(upsert(1, 1), 1))
	b.Track("S/r", 1) // the first plan's delivery was accounted before the tracking: it starts after it
	// Deliveries 3-7 come; 2 is still being mapped.
	rest := make([]*plan.Plan, 5)
	for i := range rest {
		rest[i] = delivered(upsert(10+i, uint64(10+i)), uint64(3+i))
	}
	outcome := make(chan []error, 1)
	go func() { outcome <- submitAll(t, b, rest...) }()
	natstest.WaitFor(t, 10*time.Second, "five plans pending", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		g := b.groups[rest[0].BatchKey()]
		return g != nil && len(g.pending) == 5
	})
	if calls := r.snapshot(); len(calls) != 1 {
		t.Fatalf("calls while delivery 2 was on its way: %v", calls)
	}
	b.Passed(plan.Delivery{Consumer: "S/r", Seq: 2}) // filtered out: no plan
	natstest.WaitFor(t, 10*time.Second, "the second call beside the first", func() bool { return len(r.snapshot()) == 2 })
	if calls := r.snapshot(); len(calls[1]) != 5 {
		t.Fatalf("calls = %v, want the five plans together", calls)
	}
	close(gate)
	for _, err := range append(<-outcome, <-done) {
		if err != nil {
			t.Fatal(err)
		}
	}
}
