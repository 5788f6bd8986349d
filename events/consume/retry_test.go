package consume

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

// calls records when the handler ran, per stream sequence.
type calls struct {
	mu sync.Mutex
	at map[uint64][]time.Time
}

func (c *calls) add(seq uint64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at == nil {
		c.at = map[uint64][]time.Time{}
	}
	c.at[seq] = append(c.at[seq], time.Now())
	return len(c.at[seq])
}

func (c *calls) of(seq uint64) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at[seq]...)
}

// hooked runs a loop whose first message (seq 1) fails as fail says on
// each of its calls (nil once it succeeds) and whose second message (seq
// 2, published after it) always succeeds, and waits until both are
// settled: the second is handled whatever the hooks did with the first.
func hooked(t *testing.T, retry Retry, fail func(call int) error) (*fixture, *calls) {
	t.Helper()
	f := setup(t, 5*time.Second)
	f.publish(t, 2)
	c := &calls{}
	f.run(t, func(ctx context.Context, m *Msg) error {
		n := c.add(m.Seq())
		if m.Seq() == 1 {
			return fail(n)
		}
		return nil
	}, retry, nil)
	natstest.WaitFor(t, 10*time.Second, "the normal message handled", func() bool { return len(c.of(2)) == 1 })
	f.waitSettled(t)
	if n := len(c.of(2)); n != 1 {
		t.Fatalf("the normal message was handled %d times", n)
	}
	return f, c
}

func TestRetryDelayHookSetsTheWaitOverTheBackoffAndRetryAfter(t *testing.T) {
	var asked atomic.Int32
	r := fast()
	r.Delay = func(m *Msg, err error, attempt int) (time.Duration, bool) {
		asked.Add(1)
		if m.Seq() != 1 || attempt != 1 || events.RetryAfterOf(err) != time.Hour {
			t.Errorf("Delay asked for seq %d attempt %d with %v", m.Seq(), attempt, err)
		}
		return 400 * time.Millisecond, true
	}
	f, c := hooked(t, r, func(n int) error {
		if n == 1 {
			// The error asks for an hour; the hook's answer is used as is.
			return events.RetryAfter(errors.New("busy"), time.Hour)
		}
		return nil
	})
	at := c.of(1)
	if len(at) != 2 || asked.Load() != 1 || len(f.dlq(t)) != 0 {
		t.Fatalf("calls %d, Delay asked %d times, dlq %d", len(at), asked.Load(), len(f.dlq(t)))
	}
	if gap := at[1].Sub(at[0]); gap < 400*time.Millisecond || gap > 5*time.Second {
		t.Fatalf("redelivered after %s, want the hook's 400ms", gap)
	}
}

func TestRetryDelayHookThatDeclinesLeavesTheBackoffAndRetryAfter(t *testing.T) {
	r := fast() // backoff 10ms..50ms
	r.Delay = func(*Msg, error, int) (time.Duration, bool) { return time.Hour, false }
	_, c := hooked(t, r, func(n int) error {
		if n == 1 {
			return events.RetryAfter(errors.New("slow down"), 300*time.Millisecond)
		}
		return nil
	})
	at := c.of(1)
	if len(at) != 2 {
		t.Fatalf("calls %d", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 300*time.Millisecond || gap > 5*time.Second {
		t.Fatalf("redelivered after %s, want the error's 300ms over the backoff", gap)
	}
}

func TestShouldRetryFalseDeadLettersATransientFailureAtOnce(t *testing.T) {
	r := fast()
	r.ShouldRetry = func(m *Msg, err error) bool { return m.Seq() != 1 || !strings.Contains(err.Error(), "refused") }
	f, c := hooked(t, r, func(int) error { return errors.New("connection refused") })
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	h := f.dlq(t)[0].Header
	if n := len(c.of(1)); n != 1 || h.Get(events.HeaderDLQKind) != "exhausted" || h.Get(events.HeaderDLQAttempts) != "1" ||
		!strings.Contains(h.Get(events.HeaderDLQReason), "attempt 1 of 3, not retried: connection refused") {
		t.Fatalf("calls %d, dead letter %v", n, h)
	}
}

func TestShouldRetryTrueRetriesAPermanentFailureUntilItIsAcked(t *testing.T) {
	var seen atomic.Int32
	r := fast()
	r.ShouldRetry = func(m *Msg, err error) bool {
		seen.Add(1)
		return events.IsPermanent(err) // an error this consumer knows to pass
	}
	f, c := hooked(t, r, func(n int) error {
		if n == 1 {
			return events.Permanentf("404: not replicated yet")
		}
		return nil
	})
	if n := len(c.of(1)); n != 2 || seen.Load() != 1 || len(f.dlq(t)) != 0 {
		t.Fatalf("calls %d, ShouldRetry asked %d times, dlq %d", n, seen.Load(), len(f.dlq(t)))
	}
}

func TestShouldRetryTrueStillStopsAtMaxAttempts(t *testing.T) {
	r := fast()
	r.ShouldRetry = func(*Msg, error) bool { return true }
	f, c := hooked(t, r, func(int) error { return events.Permanentf("bad") })
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	if h := f.dlq(t)[0].Header; len(c.of(1)) != 3 || h.Get(events.HeaderDLQKind) != "exhausted" || h.Get(events.HeaderDLQAttempts) != "3" {
		t.Fatalf("calls %d, dead letter %v", len(c.of(1)), h)
	}
}

func TestOnRetryHookIsToldOfEachRetryAndNotOfTheEnd(t *testing.T) {
	type retry struct {
		seq     uint64
		attempt int
		delay   time.Duration
	}
	var mu sync.Mutex
	var got []retry
	r := fast()
	r.Delay = func(_ *Msg, _ error, attempt int) (time.Duration, bool) {
		return time.Duration(attempt) * 20 * time.Millisecond, true
	}
	r.OnRetryHook = func(m *Msg, attempt int, delay time.Duration) {
		mu.Lock()
		got = append(got, retry{m.Seq(), attempt, delay})
		mu.Unlock()
	}
	f, c := hooked(t, r, func(int) error { return errors.New("timeout") })
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	mu.Lock()
	defer mu.Unlock()
	want := []retry{{1, 1, 20 * time.Millisecond}, {1, 2, 40 * time.Millisecond}}
	if len(c.of(1)) != 3 || len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("calls %d, retries %+v, want %+v", len(c.of(1)), got, want)
	}
}

// TestRetryHooksDecideTheOutcome calls the middleware directly: what each
// hook returns is what the message is settled with.
func TestRetryHooksDecideTheOutcome(t *testing.T) {
	transient := errors.New("503")
	permanent := events.Permanentf("422")
	cases := []struct {
		name      string
		retry     Retry
		attempt   int
		err       error
		delay     time.Duration // the wait the returned error carries, when retried
		exhausted bool
		same      bool // the handler's error is returned as it is
	}{
		{name: "zero hooks retry a transient error", retry: Retry{InitialInterval: time.Minute, RandomizationFactor: 0.01},
			attempt: 1, err: events.RetryAfter(transient, 2*time.Hour), delay: 2 * time.Hour},
		{name: "zero hooks pass a permanent error on", attempt: 1, err: permanent, same: true},
		{name: "Delay sets the wait", retry: Retry{Delay: func(*Msg, error, int) (time.Duration, bool) { return 7 * time.Second, true }},
			attempt: 2, err: transient, delay: 7 * time.Second},
		{name: "Delay below zero waits nothing", retry: Retry{Delay: func(*Msg, error, int) (time.Duration, bool) { return -time.Second, true }},
			attempt: 1, err: transient, delay: 0},
		{name: "ShouldRetry false gives up", retry: Retry{ShouldRetry: func(*Msg, error) bool { return false }},
			attempt: 1, err: transient, exhausted: true},
		{name: "ShouldRetry false keeps a permanent error as it is", retry: Retry{ShouldRetry: func(*Msg, error) bool { return false }},
			attempt: 1, err: permanent, same: true},
		{name: "ShouldRetry true retries a permanent error",
			retry:   Retry{ShouldRetry: func(*Msg, error) bool { return true }, Delay: func(*Msg, error, int) (time.Duration, bool) { return time.Second, true }},
			attempt: 1, err: permanent, delay: time.Second},
		{name: "the last attempt is exhausted whatever Delay says", retry: Retry{MaxAttempts: 2, Delay: func(*Msg, error, int) (time.Duration, bool) { return time.Second, true }},
			attempt: 2, err: transient, exhausted: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &Msg{Attempt: c.attempt, Meta: &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: 9}}}
			var hooked []time.Duration
			c.retry.OnRetryHook = func(_ *Msg, attempt int, delay time.Duration) {
				if attempt != c.attempt {
					t.Errorf("OnRetryHook attempt %d, want %d", attempt, c.attempt)
				}
				hooked = append(hooked, delay)
			}
			err := c.retry.Middleware(func(context.Context, *Msg) error { return c.err })(context.Background(), m)
			retried := !c.exhausted && !c.same
			switch {
			case m.Exhausted() != c.exhausted:
				t.Fatalf("exhausted = %v, want %v (err %v)", m.Exhausted(), c.exhausted, err)
			case c.same && err != c.err:
				t.Fatalf("err = %v, want the handler's %v", err, c.err)
			case !errors.Is(err, errors.Unwrap(c.err)) && !errors.Is(err, c.err):
				t.Fatalf("err = %v does not wrap %v", err, c.err)
			case retried && (events.IsPermanent(err) || events.RetryAfterOf(err) != c.delay):
				t.Fatalf("err = %v (permanent %v), wait %s, want a retry after %s", err, events.IsPermanent(err), events.RetryAfterOf(err), c.delay)
			case retried != (len(hooked) == 1) || retried && hooked[0] != c.delay:
				t.Fatalf("OnRetryHook saw %v, retried %v", hooked, retried)
			}
		})
	}
}
