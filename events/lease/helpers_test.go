package lease_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/lease"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// work is the singleton work of the tests: it records who runs it, how
// many ran at once at most, and how many times each started.
type work struct {
	mu     sync.Mutex
	active map[string]bool
	most   int
	runs   map[string]int
}

func newWork() *work { return &work{active: map[string]bool{}, runs: map[string]int{}} }

// fn runs until its ctx is done, as a poll loop does.
func (w *work) fn(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		w.mu.Lock()
		w.active[name] = true
		w.runs[name]++
		w.most = max(w.most, len(w.active))
		w.mu.Unlock()
		<-ctx.Done()
		w.mu.Lock()
		delete(w.active, name)
		w.mu.Unlock()
		return ctx.Err()
	}
}

// running is the name of the one contender running the work, "" if none.
func (w *work) running() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for n := range w.active {
		return n
	}
	return ""
}

func (w *work) runCount(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runs[name]
}

// checkOneAtATime fails the test if two contenders ever ran the work at
// the same time.
func (w *work) checkOneAtATime(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.most != 1 {
		t.Fatalf("%d contenders ran the work at once, want 1", w.most)
	}
}

// contender is one lease.Run in its own goroutine.
type contender struct {
	name   string
	nc     *nats.Conn // set by holderAndStandby
	js     jetstream.JetStream
	cancel context.CancelFunc
	done   chan error
	logs   *buffer
	once   sync.Once
	err    error
}

// start runs l with fn until the test ends or stop is called.
func start(t *testing.T, l lease.Lease, name string, fn func(context.Context) error) *contender {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &contender{name: name, cancel: cancel, done: make(chan error, 1), logs: &buffer{}}
	l.Holder = name
	l.Log = slog.New(slog.NewJSONHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() { c.done <- l.Run(ctx, fn) }()
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("%s: Run returned %v", name, err)
		}
	})
	return c
}

// holderAndStandby runs l as a, on a connection of its own to a new
// server, until a runs w, then as b, on another, until b stands by. Only
// a's Metrics are kept.
func holderAndStandby(t *testing.T, w *work, l lease.Lease) (a, b *contender) {
	t.Helper()
	s := natstest.RunServer(t)
	ncA, jsA := natstest.Connect(t, s.ClientURL())
	l.JS = jsA
	a = start(t, l, "a", w.fn("a"))
	a.nc, a.js = ncA, jsA
	natstest.WaitFor(t, natstest.Wait, "a to run the work", func() bool { return w.running() == "a" })
	ncB, jsB := natstest.Connect(t, s.ClientURL())
	l.JS, l.Metrics = jsB, nil
	b = start(t, l, "b", w.fn("b"))
	b.nc, b.js = ncB, jsB
	b.waitLog(t, "standing by")
	return a, b
}

// stop cancels the contender and waits for Run to return.
func (c *contender) stop() error {
	c.once.Do(func() {
		c.cancel()
		select {
		case c.err = <-c.done:
		case <-time.After(natstest.Wait):
			c.err = context.DeadlineExceeded
		}
	})
	return c.err
}

// waitLog waits until the contender logged a line containing msg.
func (c *contender) waitLog(t *testing.T, msg string) {
	t.Helper()
	natstest.WaitFor(t, natstest.Wait, c.name+" to log "+msg, func() bool { return strings.Contains(c.logs.String(), msg) })
}

// buffer is the shared test log sink.
type buffer = natstest.LogBuffer
