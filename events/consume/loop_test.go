package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const route = "test-route"

type fixture struct {
	js      jetstream.JetStream
	metrics *Metrics
	logs    *syncBuffer
}

func setup(t *testing.T, ackWait time.Duration) *fixture {
	t.Helper()
	js := natstest.RunHub(t).JS
	_, err := stream.EnsureConsumer(context.Background(), js, stream.ConsumerOptions{Name: route, Stream: events.StreamGitHub, Subjects: []string{"github.>"}, AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{js: js, metrics: NewMetrics(prometheus.NewRegistry()), logs: &syncBuffer{}}
}

func (f *fixture) publish(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		e := events.New(context.Background(), "test", "com.github.issues.opened", []byte(fmt.Sprintf(`{"n":%d}`, i)))
		ids[i] = e.ID
		if _, err := f.js.PublishMsg(context.Background(), e.Msg("github.issues.opened")); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// run starts a loop with the standard chain around h and returns a stop
// function that cancels it and waits for Run to return.
func (f *fixture) run(t *testing.T, h Handler, retry Retry, tune func(*Loop)) (stop func()) {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := &Loop{JS: f.js, Stream: events.StreamGitHub, Consumer: route, Logger: log, PollWait: 100 * time.Millisecond,
		Handler: Chain(h, Standard(log, f.metrics, DeadLetter{JS: f.js}, retry)...)}
	if tune != nil {
		tune(l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (f *fixture) dlq(t *testing.T) []jetstream.RawStreamMsg {
	t.Helper()
	s, err := f.js.Stream(context.Background(), events.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(context.Background())
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err == nil {
			out = append(out, *m)
		}
	}
	return out
}

func (f *fixture) pending(t *testing.T) (pending uint64, ackPending int) {
	t.Helper()
	c, err := f.js.Consumer(context.Background(), events.StreamGitHub, route)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending, info.NumAckPending
}

func (f *fixture) waitSettled(t *testing.T) {
	t.Helper()
	natstest.WaitFor(t, 10*time.Second, "every message acknowledged", func() bool {
		p, a := f.pending(t)
		return p == 0 && a == 0
	})
}

func fast() Retry {
	return Retry{InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxAttempts: 3}
}

func TestTransientFailureIsRetriedThenSucceeds(t *testing.T) {
	f := setup(t, 5*time.Second)
	var calls atomic.Int32
	f.publish(t, 1)
	f.run(t, func(ctx context.Context, m *Msg) error {
		if calls.Add(1) < 3 {
			return events.Transient(errors.New("odoo busy"))
		}
		return nil
	}, fast(), nil)
	natstest.WaitFor(t, 10*time.Second, "third call", func() bool { return calls.Load() == 3 })
	f.waitSettled(t)
	if n := len(f.dlq(t)); n != 0 || calls.Load() != 3 {
		t.Fatalf("dlq = %d, calls = %d", n, calls.Load())
	}
	if got := testutil.ToFloat64(f.metrics.retried.WithLabelValues(route)); got != 2 {
		t.Fatalf("retried metric = %v", got)
	}
	if got := testutil.ToFloat64(f.metrics.processed.WithLabelValues(route)); got != 1 {
		t.Fatalf("processed metric = %v", got)
	}
}

func TestPermanentFailureIsDeadLetteredAtOnce(t *testing.T) {
	f := setup(t, 5*time.Second)
	ids := f.publish(t, 1)
	var calls atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error {
		calls.Add(1)
		return events.Permanentf("Odoo said: ValidationError\nline two")
	}, fast(), nil)
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	f.waitSettled(t)
	d := f.dlq(t)[0]
	h := d.Header
	if calls.Load() != 1 || d.Subject != "dlq.test-route.github.issues.opened" || string(d.Data) != `{"n":0}` {
		t.Fatalf("calls %d, subject %s, data %s", calls.Load(), d.Subject, d.Data)
	}
	want := map[string]string{
		events.HeaderDLQReason: "Odoo said: ValidationError | line two", events.HeaderDLQKind: "permanent",
		events.HeaderDLQAttempts: "1", events.HeaderOriginStream: events.StreamGitHub, events.HeaderOriginSeq: "1",
		events.HeaderOriginSubject: "github.issues.opened", events.HeaderRoute: route, events.HeaderID: ids[0],
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	if info := ReadDeadLetterInfo(h); info.Kind != "permanent" || info.Attempts != 1 || info.OriginSeq != 1 || info.Route != route ||
		time.Since(info.Time) > time.Minute {
		t.Errorf("dead letter read back as %+v", info)
	}
	if !strings.Contains(f.logs.String(), `"msg":"dead-lettered"`) || !strings.Contains(f.logs.String(), `"correlation_id":"`+ids[0]) {
		t.Errorf("log lacks the dead letter or correlation id:\n%s", f.logs)
	}
}

func TestExhaustedAttemptsAreDeadLettered(t *testing.T) {
	f := setup(t, 5*time.Second)
	f.publish(t, 1)
	var calls atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error {
		calls.Add(1)
		return errors.New("connection refused")
	}, fast(), nil)
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	f.waitSettled(t)
	h := f.dlq(t)[0].Header
	if calls.Load() != 3 || h.Get(events.HeaderDLQKind) != "exhausted" || h.Get(events.HeaderDLQAttempts) != "3" ||
		!strings.Contains(h.Get(events.HeaderDLQReason), "attempt 3 of 3: connection refused") {
		t.Fatalf("calls = %d, headers = %v", calls.Load(), h)
	}
}

func TestLongHandlerIsKeptAliveAndProcessedOnce(t *testing.T) {
	f := setup(t, 300*time.Millisecond)
	f.publish(t, 1)
	var calls atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error {
		calls.Add(1)
		time.Sleep(1200 * time.Millisecond) // four ack waits: simulated slow work
		return nil
	}, fast(), nil)
	f.waitSettled(t)
	if c := calls.Load(); c != 1 {
		t.Fatalf("handler ran %d times", c)
	}
}

func TestShutdownReturnsInFlightMessagesToTheNextConsumer(t *testing.T) {
	f := setup(t, time.Minute) // without Nak on shutdown, a redelivery would take a minute
	ids := f.publish(t, 20)
	started := make(chan struct{}, 20)
	stopA := f.run(t, func(ctx context.Context, m *Msg) error {
		started <- struct{}{}
		<-ctx.Done() // never finishes by itself: only the hard stop ends it
		return ctx.Err()
	}, fast(), func(l *Loop) { l.Concurrency = 4; l.ShutdownGrace = 100 * time.Millisecond })
	for i := 0; i < 4; i++ {
		<-started
	}
	stopA()

	var mu sync.Mutex
	done := map[string]bool{}
	f.run(t, func(ctx context.Context, m *Msg) error {
		mu.Lock()
		done[m.Event.ID] = true
		mu.Unlock()
		return nil
	}, fast(), nil)
	natstest.WaitFor(t, 10*time.Second, "all 20 messages handled by the second consumer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(done) == 20
	})
	for _, id := range ids {
		if !done[id] {
			t.Fatalf("message %s lost", id)
		}
	}
	f.waitSettled(t)
	if n := len(f.dlq(t)); n != 0 {
		t.Fatalf("%d dead letters after a clean shutdown", n)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	f := setup(t, 5*time.Second)
	f.publish(t, 40)
	var cur, peak, total atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error {
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		cur.Add(-1)
		total.Add(1)
		return nil
	}, fast(), func(l *Loop) { l.Concurrency = 3 })
	natstest.WaitFor(t, 10*time.Second, "40 handled", func() bool { return total.Load() == 40 })
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrency %d, want 2..3", p)
	}
}

func TestWorkersAreStartedOnlyForTheMessagesThatNeedThem(t *testing.T) {
	f := setup(t, 5*time.Second)
	before := runtime.NumGoroutine()
	var total atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error {
		total.Add(1)
		return nil
	}, fast(), func(l *Loop) { l.Concurrency = 4000 }) // a writer route's default: 2 × batch_size
	for i := range 5 { // one at a time: one worker is enough
		f.publish(t, 1)
		natstest.WaitFor(t, 10*time.Second, "handled", func() bool { return total.Load() == int32(i+1) })
	}
	if grown := runtime.NumGoroutine() - before; grown > 100 {
		t.Fatalf("%d goroutines more for 5 messages handled one at a time with Concurrency 4000: workers started up front", grown)
	}
	// A burst still gets as many workers as it has messages in flight.
	f.publish(t, 40)
	natstest.WaitFor(t, 10*time.Second, "45 handled", func() bool { return total.Load() == 45 })
}

func TestFetchCooldownSpacesPullsSoEachFetchesForEveryFreedWorker(t *testing.T) {
	f := setup(t, 5*time.Second)
	f.publish(t, 40)
	var total atomic.Int32
	start := time.Now()
	f.run(t, func(ctx context.Context, m *Msg) error {
		total.Add(1)
		return nil
	}, fast(), func(l *Loop) { l.Concurrency, l.FetchCooldown = 8, 100*time.Millisecond })
	natstest.WaitFor(t, 10*time.Second, "40 handled", func() bool { return total.Load() == 40 })
	// At most 8 a pull and pulls 100 ms apart: at least 5 pulls, 4 cooldowns.
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("40 handled in %s: pulls were not spaced", d)
	}
}

func TestDeferIsNotAnAttempt(t *testing.T) {
	f := setup(t, 5*time.Second)
	f.publish(t, 1)
	var calls atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error {
		if calls.Add(1) <= 2 {
			return Defer(20*time.Millisecond, "breaker open")
		}
		return nil
	}, Retry{MaxAttempts: 1}, nil)
	f.waitSettled(t)
	if calls.Load() != 3 || len(f.dlq(t)) != 0 {
		t.Fatalf("calls %d, dlq %d", calls.Load(), len(f.dlq(t)))
	}
	if got := testutil.ToFloat64(f.metrics.deferred.WithLabelValues(route)); got != 2 {
		t.Fatalf("deferred metric = %v", got)
	}
}

func TestPausedLoopPullsNothingUntilThePauseEnds(t *testing.T) {
	f := setup(t, 5*time.Second)
	f.publish(t, 3)
	var paused atomic.Bool
	paused.Store(true)
	var asked, calls atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error {
		calls.Add(1)
		return nil
	}, fast(), func(l *Loop) {
		l.Pause = func() time.Duration {
			asked.Add(1)
			if paused.Load() {
				return 10 * time.Millisecond
			}
			return 0
		}
	})
	natstest.WaitFor(t, 10*time.Second, "the loop to ask for its pause a few times", func() bool { return asked.Load() >= 3 })
	if p, a := f.pending(t); calls.Load() != 0 || p != 3 || a != 0 {
		t.Fatalf("while paused: %d handled, %d pending, %d delivered", calls.Load(), p, a)
	}
	paused.Store(false)
	f.waitSettled(t)
	if calls.Load() != 3 {
		t.Fatalf("%d handled after the pause", calls.Load())
	}
}

func TestLongPauseEndsWithShutdown(t *testing.T) {
	f := setup(t, 5*time.Second)
	asked := make(chan struct{}, 1)
	stop := f.run(t, func(ctx context.Context, m *Msg) error { return nil }, fast(), func(l *Loop) {
		l.Pause = func() time.Duration {
			select {
			case asked <- struct{}{}:
			default:
			}
			return time.Hour
		}
	})
	<-asked
	stop() // returns: the pause waits on the loop's context, not out its hour
}

func TestMessageThatNeverCompletedIsDeadLetteredWithoutRunningAgain(t *testing.T) {
	f := setup(t, 100*time.Millisecond)
	f.publish(t, 1)
	c, _ := f.js.Consumer(context.Background(), events.StreamGitHub, route)
	for i := 0; i < 3; i++ { // three deliveries that die in the handler (never acked)
		b, err := c.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for range b.Messages() {
		}
	}
	var calls atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error { calls.Add(1); return nil }, fast(), nil)
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	if calls.Load() != 0 {
		t.Fatalf("handler ran %d times", calls.Load())
	}
	if r := f.dlq(t)[0].Header.Get(events.HeaderDLQReason); !strings.Contains(r, "never completed") {
		t.Fatalf("reason = %q", r)
	}
}

func TestPanicIsDeadLetteredAsPermanent(t *testing.T) {
	f := setup(t, 5*time.Second)
	f.publish(t, 1)
	f.run(t, func(ctx context.Context, m *Msg) error { panic("nil map") }, fast(), nil)
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	if h := f.dlq(t)[0].Header; h.Get(events.HeaderDLQKind) != "permanent" || !strings.Contains(h.Get(events.HeaderDLQReason), "nil map") {
		t.Fatalf("headers = %v", h)
	}
}

func TestFailedDeadLetterPublishKeepsTheMessage(t *testing.T) {
	f := setup(t, 5*time.Second)
	if err := f.js.DeleteStream(context.Background(), events.StreamDLQ); err != nil {
		t.Fatal(err)
	}
	f.publish(t, 1)
	var calls atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error { calls.Add(1); return events.Permanentf("bad") }, fast(), nil)
	natstest.WaitFor(t, 10*time.Second, "a second attempt after the DLQ publish failed", func() bool { return calls.Load() >= 2 })
	natstest.EnsureStreams(t, f.js)
	natstest.WaitFor(t, 15*time.Second, "the dead letter once DLQ exists", func() bool { return len(f.dlq(t)) == 1 })
	f.waitSettled(t)
}

func TestRetryDelayGrowsAndIsCapped(t *testing.T) {
	r := Retry{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2, RandomizationFactor: 0.01}
	prev := time.Duration(0)
	for a := 1; a <= 4; a++ {
		d := r.Backoff(a)
		if d < prev {
			t.Fatalf("delay(%d) = %s < %s", a, d, prev)
		}
		prev = d
	}
	if d := r.Backoff(50); d > 1010*time.Millisecond {
		t.Fatalf("delay not capped: %s", d)
	}
}

type syncBuffer = natstest.LogBuffer

func TestReplayConsumerRedeliversToTheRouteOnlyAndIsDeleted(t *testing.T) {
	old := ReplayPoll
	ReplayPoll = 100 * time.Millisecond
	t.Cleanup(func() { ReplayPoll = old })
	f := setup(t, 5*time.Second)
	f.publish(t, 5)
	var mu sync.Mutex
	seen := map[uint64]int{}
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	l := &Loop{JS: f.js, Stream: events.StreamGitHub, Consumer: route, PollWait: 100 * time.Millisecond, Logger: log,
		Handler: Chain(func(ctx context.Context, m *Msg) error {
			mu.Lock()
			seen[m.Seq()]++
			mu.Unlock()
			return nil
		}, Standard(log, nil, DeadLetter{JS: f.js}, fast())...)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunRoute(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	count := func(want int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, c := range seen {
				n += c
			}
			return n == want
		}
	}
	natstest.WaitFor(t, 10*time.Second, "5 first deliveries", count(5))
	_, err := f.js.CreateConsumer(context.Background(), events.StreamGitHub, jetstream.ConsumerConfig{
		Durable: stream.ReplayName(route), DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: 3,
		AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "github.>"})
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, 10*time.Second, "3 replayed deliveries", count(8))
	natstest.WaitFor(t, 10*time.Second, "the drained replay consumer deleted", func() bool {
		_, err := f.js.Consumer(context.Background(), events.StreamGitHub, stream.ReplayName(route))
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
	mu.Lock()
	defer mu.Unlock()
	if seen[1] != 1 || seen[3] != 2 || seen[5] != 2 {
		t.Fatalf("deliveries per seq = %v", seen)
	}
}

func TestMessageRequeuedForAnotherRouteIsSkipped(t *testing.T) {
	f := setup(t, 5*time.Second)
	e := events.New(context.Background(), "test", "t", []byte(`{}`))
	m := e.Msg("github.issues.opened")
	m.Header.Set(events.HeaderRequeuedFor, "other-route")
	if _, err := f.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	f.publish(t, 1)
	var calls atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error { calls.Add(1); return nil }, fast(), nil)
	f.waitSettled(t)
	if calls.Load() != 1 {
		t.Fatalf("handler ran %d times, want only for the message without the header", calls.Load())
	}
}

func TestRoutesReportsLagAndDLQDepth(t *testing.T) {
	f := setup(t, 5*time.Second)
	f.publish(t, 3)
	f.run(t, func(ctx context.Context, m *Msg) error {
		if m.Seq() == 2 {
			return events.Permanentf("bad")
		}
		return nil
	}, fast(), nil)
	f.waitSettled(t)
	natstest.WaitFor(t, 5*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	routes, err := stream.Routes(context.Background(), f.js)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 1 || routes[0].Route != route || routes[0].DLQDepth != 1 || routes[0].Pending != 0 || routes[0].Stream != events.StreamGitHub {
		t.Fatalf("routes = %+v", routes)
	}
	if d, err := stream.DLQDepth(context.Background(), f.js, route); err != nil || d != 1 {
		t.Fatalf("depth = %d %v", d, err)
	}
}

func TestRunStoppedBeforeItStartsIsNotAnError(t *testing.T) {
	f := setup(t, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := &Loop{JS: f.js, Stream: events.StreamGitHub, Consumer: route, Handler: func(context.Context, *Msg) error { return nil }}
	if err := l.Run(ctx); err != nil {
		t.Fatalf("Run with a cancelled context: %v", err)
	}
	l = &Loop{JS: f.js, Stream: events.StreamGitHub, Consumer: "no-such-route", Handler: func(context.Context, *Msg) error { return nil }}
	if err := l.Run(context.Background()); err == nil {
		t.Fatal("Run on a missing consumer succeeded")
	}
}

func TestAConsumerCreatedAgainUnderTheLoopStopsIt(t *testing.T) {
	f := setup(t, 5*time.Second)
	var bound []jetstream.ConsumerInfo
	var mu sync.Mutex
	l := &Loop{JS: f.js, Stream: events.StreamGitHub, Consumer: route, PollWait: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Handler: func(context.Context, *Msg) error { return nil },
		Bound: func(i jetstream.ConsumerInfo) {
			mu.Lock()
			defer mu.Unlock()
			bound = append(bound, i)
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	f.publish(t, 2)
	f.waitSettled(t)
	mu.Lock()
	if len(bound) != 1 || bound[0].Name != route || bound[0].Created.IsZero() {
		t.Fatalf("bound %+v", bound)
	}
	mu.Unlock()
	// Deleted and created again (its messages come again, each for the
	// first time): not the consumer the loop bound to.
	if err := f.js.DeleteConsumer(context.Background(), events.StreamGitHub, route); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.EnsureConsumer(context.Background(), f.js, stream.ConsumerOptions{Name: route, Stream: events.StreamGitHub, Subjects: []string{"github.>"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrConsumerGone) {
			t.Fatalf("Run = %v, want ErrConsumerGone", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the loop went on with a consumer created again")
	}
}

func TestAConsumerCreatedAgainWhileEveryWorkerIsBusyStopsTheLoop(t *testing.T) {
	f := setup(t, 5*time.Second)
	hold := make(chan struct{})
	var handled atomic.Int64
	l := &Loop{JS: f.js, Stream: events.StreamGitHub, Consumer: route, Concurrency: 1, PollWait: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
		Handler: func(ctx context.Context, m *Msg) error {
			if handled.Add(1) == 1 {
				<-hold
			}
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	f.publish(t, 1)
	natstest.WaitFor(t, 20*time.Second, "the first message handled", func() bool { return handled.Load() == 1 })
	// The one worker is busy: no pull is outstanding to be told of the
	// deletion, and the next pull reaches the consumer created again.
	if err := f.js.DeleteConsumer(context.Background(), events.StreamGitHub, route); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.EnsureConsumer(context.Background(), f.js, stream.ConsumerOptions{Name: route, Stream: events.StreamGitHub, Subjects: []string{"github.>"}}); err != nil {
		t.Fatal(err)
	}
	close(hold)
	select {
	case err := <-done:
		if !errors.Is(err, ErrConsumerGone) {
			t.Fatalf("Run = %v, want ErrConsumerGone", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the loop went on with a consumer created again")
	}
	if n := handled.Load(); n != 1 {
		t.Fatalf("handled %d messages: the new consumer's redelivery of the first ran", n)
	}
}
