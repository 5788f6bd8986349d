// Package batch groups plans bound for the same calls to Odoo. Handlers
// Submit one plan each and wait; a group flushes when it holds Size plans
// or its first plan has waited Linger; one call of the Apply function
// writes the group, and every handler gets its own plan's outcome, so each
// message is acknowledged only after Odoo answered for it.
//
// When Odoo refuses a call for several plans without saying which one is
// bad (Isolate), the plans are tried again one by one: only the bad one
// fails, with Odoo's message. When it names the bad ones (Again for the
// rest), the rest are tried again together. A transient failure is every
// plan's: each message goes back to the stream and is batched anew.
//
// Plans that touch the same record (plan.Conflicts) are never in calls
// at the same time: a second upsert of one key waits for the first, so it
// finds the record instead of creating another.
package batch

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
	"go.opentelemetry.io/otel/trace"
)

// ApplyFunc writes plans that share a batch key into Odoo and returns one
// error per plan, in order (nil: applied). It marks errors with Isolate or
// Again as those describe.
type ApplyFunc func(ctx context.Context, plans []*plan.Plan) []error

// Observer is told the size of every call Apply is made for.
type Observer func(route, op string, size int)

// Batcher groups submitted plans and applies them.
type Batcher struct {
	apply   ApplyFunc
	size    int
	linger  time.Duration
	observe Observer

	ctx    context.Context // flushes run with it; cancelled by Close after the last
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool // Close was called: nothing more is flushed
	groups    map[string]*group
	busy      map[string]int         // conflict → plans in calls now
	delivered map[string]*deliveries // by plan.Delivery.Consumer: which deliveries reached the batcher
	latest    *latest
}

type group struct {
	key      string
	pending  []*item
	newest   *item // the pending plan latest in its stream
	timer    *time.Timer
	inFlight int // this group's calls in flight now
}

type item struct {
	plan      *plan.Plan
	conflicts []string // plan.Conflicts(), worked out once, before the lock
	since     time.Time
	done      chan error        // buffered: the flush never blocks on a handler that left
	trace     trace.SpanContext // the submitting message's span, which the batch's span links to
}

// New returns a Batcher flushing at size plans (at least 1) or after
// linger. observe may be nil.
func New(apply ApplyFunc, size int, linger time.Duration, observe Observer) *Batcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &Batcher{apply: apply, size: max(size, 1), linger: linger, observe: observe, ctx: ctx, cancel: cancel,
		groups: map[string]*group{}, busy: map[string]int{}, delivered: map[string]*deliveries{}, latest: newLatest()}
}

// Track makes the batcher account for the deliveries of consumer (a
// plan.Delivery's Consumer) after delivered, its last delivery before the
// writer started: a batch is complete only once every delivery up to its
// newest plan's has reached the batcher, as a plan (Submit) or as a
// message that gave none (Passed).
func (b *Batcher) Track(consumer string, delivered uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delivered[consumer] = newDeliveries(delivered + 1)
}

// Passed says that delivery d reached the batcher without a plan (its
// message was filtered out or failed to map).
func (b *Batcher) Passed(d plan.Delivery) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.account(d) {
		b.reschedule() // a batch may have waited for it
	}
}

// account records a delivery; true if it is tracked. b.mu is held.
func (b *Batcher) account(d plan.Delivery) bool {
	t := b.delivered[d.Consumer]
	if t == nil || d.Seq == 0 {
		return false
	}
	t.account(d.Seq, time.Now())
	return true
}

// complete reports whether nothing more is on its way for g's pending
// plans: nothing waited in the stream behind the newest when it was
// delivered, and every delivery before it has reached the batcher (a gap
// open for longer than the linger is given up on). A plan of a consumer
// not tracked (a replay's, or none) is never known complete. b.mu is held.
func (b *Batcher) complete(g *group) bool {
	p := g.newest.plan
	t := b.delivered[p.Delivery.Consumer]
	return p.Backlog == 0 && t != nil && p.Delivery.Seq > 0 && t.through(p.Delivery.Seq, time.Now(), b.linger)
}

// Submit adds p to its group and waits for its outcome, or for ctx. A
// handler that stops waiting leaves its plan in the batch: it may still
// be written, which a redelivery then finds (writes are idempotent).
func (b *Batcher) Submit(ctx context.Context, p *plan.Plan) error {
	it := &item{plan: p, conflicts: p.Conflicts(), since: time.Now(), done: make(chan error, 1), trace: trace.SpanContextFromContext(ctx)}
	b.mu.Lock()
	key := p.BatchKey()
	g := b.groups[key]
	if g == nil {
		g = &group{key: key}
		b.groups[key] = g
	}
	g.pending = append(g.pending, it)
	if g.newest == nil || p.Seq > g.newest.plan.Seq {
		g.newest = it
	}
	if b.account(p.Delivery) {
		b.reschedule() // another group may have waited for this delivery
	} else {
		b.schedule(g)
	}
	b.mu.Unlock()
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cancels the calls still in flight and waits for them to end. Call
// it once every handler has returned: nobody waits for those outcomes any
// more, and their messages went back to the stream.
func (b *Batcher) Close() {
	b.mu.Lock()
	b.closed = true // a linger timer that fires now flushes nothing: no call starts after Wait
	for _, g := range b.groups {
		if g.timer != nil {
			g.timer.Stop()
			g.timer = nil
		}
	}
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}

// schedule flushes g while a full batch of free plans is pending. Then,
// with a call of g in flight, the free plans left keep waiting for more,
// unless they fill half a batch and nothing more is on its way (complete):
// those go at once, so that on an Odoo serving one call at a time their
// calls queue behind the one in flight and the client's work on them
// (encoding, reading the answers) overlaps Odoo's, instead of Odoo waiting
// for it between batches. With none in flight, they go at once when
// nothing more waits in the stream (an idle writer adds no latency) or
// when the oldest has waited Linger, else the timer is armed for that.
// Plans blocked by a call in flight wait for its end, which reschedules
// them. b.mu is held.
func (b *Batcher) schedule(g *group) {
	if b.closed {
		return // nothing more is flushed
	}
	for len(g.pending) >= b.size && b.freeCount(g, b.size) >= b.size {
		b.flush(g)
	}
	if len(g.pending) == 0 {
		if g.timer != nil && g.timer.Stop() {
			g.timer = nil
		}
		if g.timer == nil && g.inFlight == 0 && b.groups[g.key] == g {
			delete(b.groups, g.key)
		}
		return
	}
	if b.freeCount(g, 1) == 0 {
		return
	}
	if g.inFlight > 0 {
		if 2*len(g.pending) >= b.size && len(g.pending) > 1 && b.complete(g) {
			b.flush(g)
			b.schedule(g)
		}
		return
	}
	if g.timer != nil {
		return
	}
	oldest := g.pending[0]
	for _, it := range g.pending {
		if it.since.Before(oldest.since) {
			oldest = it
		}
	}
	wait := b.linger - time.Since(oldest.since)
	if wait <= 0 || g.newest.plan.Backlog == 0 {
		b.flush(g)
		b.schedule(g) // g now has a call in flight, or only blocked plans, or none
		return
	}
	g.timer = time.AfterFunc(wait, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		g.timer = nil
		b.schedule(g)
	})
}

// freeCount counts pending plans whose records are not in a call now, up
// to limit.
func (b *Batcher) freeCount(g *group, limit int) int {
	n := 0
	for _, it := range g.pending {
		if b.free(it) {
			if n++; n >= limit {
				break
			}
		}
	}
	return n
}

func (b *Batcher) free(it *item) bool {
	for _, c := range it.conflicts {
		if b.busy[c] > 0 {
			return false
		}
	}
	return true
}

// flush takes up to Size free plans of g, in order, and applies them in
// their own goroutine. b.mu is held.
func (b *Batcher) flush(g *group) {
	if b.closed {
		return // nobody waits for the outcome: the messages went back to the stream
	}
	var take, keep []*item
	claimed := map[string]bool{} // conflicts taken by this batch: several plans of one record may share it
	slices.SortStableFunc(g.pending, func(x, y *item) int { return cmp.Compare(x.plan.Seq, y.plan.Seq) })
	for _, it := range g.pending {
		if b.free(it) && b.latest.stale(it.plan, it.conflicts) {
			it.done <- nil // a later event of the record is written already
			continue
		}
		if len(take) < b.size && b.freeOrOurs(it, claimed) {
			take = append(take, it)
			for _, c := range it.conflicts {
				claimed[c] = true
			}
			continue
		}
		keep = append(keep, it)
	}
	g.pending, g.newest = keep, nil
	for _, it := range keep {
		if g.newest == nil || it.plan.Seq > g.newest.plan.Seq {
			g.newest = it
		}
	}
	if len(take) == 0 {
		return
	}
	for c := range claimed {
		b.busy[c]++
	}
	g.inFlight++
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		errs := b.run(take)
		// The group's next batch goes first, its handlers are told after:
		// on an Odoo serving one call at a time, the next batch's first call
		// then reaches it while this batch's messages are being acknowledged,
		// instead of after.
		b.mu.Lock()
		for c := range claimed {
			if b.busy[c]--; b.busy[c] == 0 {
				delete(b.busy, c)
			}
		}
		g.inFlight--
		b.reschedule()
		b.mu.Unlock()
		for i, it := range take {
			it.done <- errs[i]
		}
	}()
}

func (b *Batcher) freeOrOurs(it *item, claimed map[string]bool) bool {
	for _, c := range it.conflicts {
		if b.busy[c] > 0 && !claimed[c] {
			return false
		}
	}
	return true
}

// reschedule looks at every group again after a call ended and freed
// its records. b.mu is held.
func (b *Batcher) reschedule() {
	for _, g := range b.groups {
		b.schedule(g)
	}
}

// run applies one batch and returns each plan's outcome.
func (b *Batcher) run(items []*item) []error {
	plans := make([]*plan.Plan, len(items))
	for i, it := range items {
		plans[i] = it.plan
	}
	ctx, span := batchSpan(b.ctx, items)
	errs := b.applyAll(ctx, plans)
	endBatchSpan(span, errs)
	b.latest.done(plans, errs)
	return errs
}
