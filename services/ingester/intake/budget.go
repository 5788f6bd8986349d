package intake

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// DefaultBudgetBytes is the default budget for request bodies in flight:
// 256 MiB, ten of GitHub's largest deliveries at once.
const DefaultBudgetBytes = 256 << 20

// BudgetWait is how long a request waits for room in a full budget before
// it is answered 503. It is short because nobody should wait on it: a
// burst that clears within it is served, a sustained overload is told to
// come back later; and a wait plus Odoo's 700ms publish timeout stays
// under the 1s Odoo gives a webhook.
const BudgetWait = 100 * time.Millisecond

// ErrBusy is wrapped when a request could not get room for its body
// within BudgetWait.
var ErrBusy = errors.New("request body budget full")

// Budget bounds the bytes of request bodies the ingester holds at once,
// across its endpoints. Each request has a Hold that grows as its body
// arrives (never from what the request announces) and is given back when
// the request has been answered. A hold that would outgrow the whole
// budget is capped at all of it, so such a body is served alone rather
// than never. Waiters are served in arrival order: a large growth waiting
// for room is not overtaken by small ones (each waits BudgetWait at most).
//
// A nil *Budget, and a Budget of size 0, bound nothing; the latter still
// counts the bytes in flight.
type Budget struct {
	size    int64               // bytes; 0 = unlimited
	sem     *semaphore.Weighted // nil when unlimited
	inUse   atomic.Int64        // bytes held now
	metrics *Metrics            // the in-flight gauge; may be nil
}

// NewBudget is a budget of size bytes (0 = unlimited) whose use is shown
// by m's gauges (m may be nil).
func NewBudget(size int64, m *Metrics) *Budget {
	b := &Budget{size: max(size, 0), metrics: m}
	if b.size > 0 {
		b.sem = semaphore.NewWeighted(b.size)
	}
	m.budget(b.size)
	return b
}

// Size is the budget in bytes; 0 = unlimited.
func (b *Budget) Size() int64 {
	if b == nil {
		return 0
	}
	return b.size
}

// InUse is the number of bytes held now.
func (b *Budget) InUse() int64 {
	if b == nil {
		return 0
	}
	return b.inUse.Load()
}

// Hold is an empty share of the budget for one request; Grow it as the
// body arrives and Release it once the request has been answered. A nil
// budget's holds bound and count nothing.
func (b *Budget) Hold() *Hold { return &Hold{b: b} }

// Hold is one request's share of a Budget. It is used by the request's
// goroutine only.
type Hold struct {
	b    *Budget
	held int64
}

// Held is the number of bytes held now.
func (h *Hold) Held() int64 { return h.held }

// Grow makes the hold n bytes (all of the budget when n is larger),
// waiting at most BudgetWait, or until ctx is done, for the room it
// lacks. A hold does not shrink; a smaller n does nothing. On an error,
// which wraps ErrBusy (and the context's error when ctx ended the wait),
// the hold keeps what it had.
func (h *Hold) Grow(ctx context.Context, n int64) error {
	b := h.b
	if b == nil {
		return nil
	}
	if b.sem != nil {
		n = min(n, b.size)
	}
	more := n - h.held
	if more <= 0 {
		return nil
	}
	if b.sem != nil {
		if err := b.acquire(ctx, more); err != nil {
			return fmt.Errorf("reserve %d more bytes (%d held) of the %d-byte body budget (%d in use): %w: %w",
				more, h.held, b.size, b.InUse(), ErrBusy, err)
		}
	}
	h.held = n
	b.inUse.Add(more)
	b.metrics.inFlight(more)
	return nil
}

// Release gives the whole hold back; calling it again does nothing.
func (h *Hold) Release() {
	b, n := h.b, h.held
	if b == nil || n == 0 {
		return
	}
	h.held = 0
	if b.sem != nil {
		b.sem.Release(n) // first: a gauge at 0 means the semaphore is free
	}
	b.inUse.Add(-n)
	b.metrics.inFlight(-n)
}

// acquire takes n from the semaphore: at once when there is room and no
// one waits (no timer is made for the common case), else within BudgetWait.
func (b *Budget) acquire(ctx context.Context, n int64) error {
	if b.sem.TryAcquire(n) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, BudgetWait)
	defer cancel()
	return b.sem.Acquire(ctx, n)
}
