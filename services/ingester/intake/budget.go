package intake

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// ErrBusy is wrapped when a request could not reserve room for its body
// within BudgetWait.
var ErrBusy = errors.New("request body budget full")

// Budget bounds the bytes of request bodies the ingester holds at once,
// across its endpoints: a request reserves its body's size before the body
// is read and gives it back when it has been answered. A body larger than
// the whole budget reserves all of it, so it is served alone rather than
// never. Waiters are served in arrival order: a large body waiting for
// room is not overtaken by small ones (each waits BudgetWait at most).
//
// A nil *Budget, and a Budget of size 0, bound nothing; the latter still
// counts the bytes in flight.
type Budget struct {
	size    int64               // bytes; 0 = unlimited
	sem     *semaphore.Weighted // nil when unlimited
	inUse   atomic.Int64        // bytes reserved now
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

// InUse is the number of bytes reserved now.
func (b *Budget) InUse() int64 {
	if b == nil {
		return 0
	}
	return b.inUse.Load()
}

// Reserve takes n bytes of the budget (all of it when n is larger),
// waiting at most BudgetWait, or until ctx is done, for room. release
// gives them back; calling it again does nothing. The error wraps ErrBusy
// (and the context's error when ctx ended the wait).
func (b *Budget) Reserve(ctx context.Context, n int64) (release func(), err error) {
	if b == nil || n <= 0 {
		return func() {}, nil
	}
	if b.sem != nil {
		n = min(n, b.size)
		if err := b.acquire(ctx, n); err != nil {
			return nil, fmt.Errorf("reserve %d bytes of the %d-byte body budget (%d in use): %w: %w", n, b.size, b.InUse(), ErrBusy, err)
		}
	}
	b.inUse.Add(n)
	b.metrics.inFlight(n)
	return sync.OnceFunc(func() {
		if b.sem != nil {
			b.sem.Release(n) // first: a gauge at 0 means the semaphore is free
		}
		b.inUse.Add(-n)
		b.metrics.inFlight(-n)
	}), nil
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
