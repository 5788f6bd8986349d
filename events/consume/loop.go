package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Loop reads one durable pull consumer (a route) and runs Handler on each
// message with at most Concurrency at once.
type Loop struct {
	JS       jetstream.JetStream
	Stream   string  // the stream the consumer reads
	Consumer string  // the durable consumer: the route's name, or its replay consumer's
	Route    string  // the route messages are handled for; default Consumer
	Handler  Handler // usually Chain(h, Standard(...)...)

	Concurrency   int           // handlers running at once; default 16
	ShutdownGrace time.Duration // how long in-flight handlers may finish after shutdown starts; default 15s
	PollWait      time.Duration // how long one pull waits for messages; default 1s (bounds shutdown latency)
	Logger        *slog.Logger  // default slog.Default()

	// Pause, when set, is asked before each pull. While it returns more
	// than zero, the loop pulls nothing for that long, then asks again;
	// handlers already running go on. The dispatcher pauses a service's
	// loops while its circuit breaker is open, instead of pulling each
	// message only to hand it back with a delay. Default: never paused.
	Pause func() time.Duration

	// FetchCooldown is the least time between the starts of two pulls
	// (River's setting of the same name). A pull that returned at once
	// is followed by one made only after the rest of the cooldown, when
	// more workers have freed up, so one pull fetches for them all
	// instead of one pull per freed worker. An idle loop is not slowed:
	// its pulls wait PollWait for messages. Default 0: pull as soon as a
	// worker is free.
	FetchCooldown time.Duration

	// Bound, when set, is called with the consumer's info each time Run
	// binds to the consumer, before it pulls anything. The dispatcher
	// reads the consumer's creation time there (a recreated consumer
	// delivers old messages as first deliveries).
	Bound func(jetstream.ConsumerInfo)

	created   time.Time // the bound consumer's creation: one recreated under the loop is another consumer
	delivered uint64    // the highest consumer sequence the loop has received (see createdAgain)
	deferrals deferrals
	acks      *recentAcks  // sent lately, sent again after trouble (see recentAcks)
	log       *slog.Logger // Logger with the route's attributes
}

// deferrals counts, per stream sequence, the deliveries that ended in
// Defer, so they are not counted as attempts. The count lives in memory: a
// restart forgets it (a middleware with durable state, like the
// dispatcher's job records, may set Msg.Attempt itself).
type deferrals struct {
	mu sync.Mutex
	n  map[uint64]int
}

func (d *deferrals) get(seq uint64) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[seq]
}

func (d *deferrals) add(seq uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = map[uint64]int{}
	}
	d.n[seq]++
}

func (d *deferrals) forget(seq uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.n, seq)
}

func (l *Loop) defaults() {
	if l.Concurrency <= 0 {
		l.Concurrency = 16
	}
	if l.ShutdownGrace <= 0 {
		l.ShutdownGrace = 15 * time.Second
	}
	if l.PollWait <= 0 {
		l.PollWait = time.Second
	}
	if l.Logger == nil {
		l.Logger = slog.Default()
	}
	if l.Route == "" {
		l.Route = l.Consumer
	}
	l.log = l.Logger.With("route", l.Route, "consumer", l.Consumer, "stream", l.Stream)
}

// Run consumes until ctx is done, then drains: it stops pulling, hands
// messages it has not started back to the stream at once (Nak), lets
// in-flight handlers finish for up to ShutdownGrace, then cancels their
// context; a handler that returns because of that is Nak'ed too, so the
// next consumer gets the message without waiting for its ack wait.
//
// Only as many messages as there are free workers are pulled, so none waits
// in a client buffer while its ack wait runs out.
func (l *Loop) Run(ctx context.Context) error {
	l.defaults()
	cons, err := l.JS.Consumer(ctx, l.Stream, l.Consumer)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started: nothing was pulled, nothing to hand back
		}
		return fmt.Errorf("route %s: consumer %s on %s: %w", l.Route, l.Consumer, l.Stream, err)
	}
	info := cons.CachedInfo()
	l.created, l.delivered = info.Created, info.Delivered.Consumer
	if l.Bound != nil {
		l.Bound(*info)
	}
	ackWait := info.Config.AckWait
	heartbeat := max(ackWait/3, 50*time.Millisecond)
	// Acks lost in trouble would cost the ack wait; those of the last two
	// ack waits are sent again once the consumer answers (an older one's
	// message has been redelivered anyway).
	l.acks = newRecentAcks(2 * ackWait)
	tr := newTrouble(l.JS.Conn())

	// Handlers outlive ctx by up to ShutdownGrace.
	handlerCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	var wg sync.WaitGroup
	slots := make(chan struct{}, l.Concurrency)
	work := l.workers(handlerCtx, heartbeat, slots, &wg)
	pause := newPause()
	var gone error
	var lastPull time.Time
	for ctx.Err() == nil {
		if !cooledDown(ctx, lastPull, l.FetchCooldown) {
			break
		}
		n := reserve(ctx, slots)
		if n == 0 {
			break
		}
		if l.paused(ctx) {
			release(slots, n)
			continue
		}
		lastPull = time.Now()
		pulled := lastPull
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(l.PollWait))
		if err != nil {
			release(slots, n)
			tr.saw()
			if gone = l.consumerGone(ctx, err); gone != nil {
				break
			}
			l.logPullError(err)
			pause.wait(ctx)
			continue
		}
		used := 0
		for raw := range batch.Messages() {
			if gone == nil {
				gone = l.createdAgain(ctx, raw)
			}
			if ctx.Err() != nil || gone != nil {
				l.returnMsg(raw)
				continue
			}
			used++
			work.send(raw)
		}
		release(slots, n-used)
		if gone != nil {
			break
		}
		if err := batch.Error(); err != nil && !isIdle(err) {
			tr.saw()
			if gone = l.consumerGone(ctx, err); gone != nil {
				break
			}
			l.logPullError(err)
			pause.wait(ctx)
			continue
		}
		pause.reset()
		l.afterPull(tr, used > 0 || time.Since(pulled) < l.PollWait+l.PollWait/2)
	}
	work.close()
	l.drain(&wg, hardStop)
	work.stop()
	return gone
}

// afterPull re-sends the recent acks when there was trouble since the
// last time and the consumer has now answered a pull (answered: it sent
// messages or ended the pull itself; a pull nobody answers ends a second
// after its expiry, and counts as trouble).
func (l *Loop) afterPull(tr *trouble, answered bool) {
	if !answered {
		tr.saw()
		return
	}
	if !tr.check() {
		return
	}
	tr.recovered()
	n, err := l.acks.resend(l.JS.Conn())
	if err != nil {
		tr.saw()
		l.log.Warn("re-send recent acknowledgements", "sent", n, "error", err)
		return
	}
	if n > 0 {
		l.log.Info("re-sent recent acknowledgements after a reconnect or failed pulls (one lost would cost the ack wait)", "acks", n)
	}
}

// workers returns the loop's worker pool: up to Concurrency workers
// that handle the messages sent to it until it is closed. A worker is
// started when a message finds none free, and then keeps its goroutine
// (and the stack it has grown) from one message to the next: a loop that
// never has more than a few messages at once holds a few goroutines, not
// Concurrency of them (a writer's route may allow thousands). A message
// holds its slot from its pull to the end of its handler. One heartbeat
// goroutine keeps the workers' long-running messages alive (see beats).
func (l *Loop) workers(ctx context.Context, heartbeat time.Duration, slots chan struct{}, wg *sync.WaitGroup) *workerPool {
	p := &workerPool{l: l, ctx: ctx, slots: slots, wg: wg, work: make(chan jetstream.Msg),
		free:  make(chan int, l.Concurrency),
		beats: &beats{every: heartbeat, running: make([]running, l.Concurrency)}, stopBeats: make(chan struct{})}
	for i := range l.Concurrency {
		p.free <- i
	}
	go p.beats.run(p.stopBeats)
	return p
}

// workerPool runs the loop's handlers; send and close are called by the
// pulling goroutine only.
type workerPool struct {
	l         *Loop
	ctx       context.Context
	slots     chan struct{}
	wg        *sync.WaitGroup // the loop's: every worker
	work      chan jetstream.Msg
	free      chan int // workers not started yet, by their place in beats.running
	beats     *beats
	stopBeats chan struct{}
}

// send hands raw to a free worker, starting one if none is waiting. The
// caller holds a slot for raw, so fewer than Concurrency messages are
// being handled: either a worker is free (or about to be: between its
// slot's release and its next receive) or one can still be started.
func (p *workerPool) send(raw jetstream.Msg) {
	select {
	case p.work <- raw:
		return
	default:
	}
	select {
	case p.work <- raw:
	case i := <-p.free:
		p.wg.Add(1)
		go p.worker(i, raw)
	}
}

func (p *workerPool) worker(i int, first jetstream.Msg) {
	defer p.wg.Done()
	r := &p.beats.running[i]
	for raw, ok := first, true; ok; raw, ok = <-p.work {
		r.start(raw)
		p.l.handle(p.ctx, raw)
		r.stop()
		<-p.slots
	}
}

// close ends the workers once they are done with their messages.
func (p *workerPool) close() { close(p.work) }

// stop ends the heartbeat goroutine, once the workers have returned.
func (p *workerPool) stop() { close(p.stopBeats) }

// beats sends InProgress for every message whose handler has run for
// `every` since its start or its last beat, so a handler that outlives
// the ack wait is not redelivered meanwhile. One goroutine per loop
// looks at the workers every every/2 (a beat is at most 1.5 × every
// apart, every being a third of the ack wait), instead of a timer per
// message: most handlers end long before their first beat.
type beats struct {
	every   time.Duration
	running []running // one per worker
}

// running is what one worker is handling, and since when it was last
// kept alive.
type running struct {
	mu   sync.Mutex
	raw  jetstream.Msg // nil while the worker is idle
	last time.Time
}

func (r *running) start(raw jetstream.Msg) {
	now := time.Now()
	r.mu.Lock()
	r.raw, r.last = raw, now
	r.mu.Unlock()
}

func (r *running) stop() {
	r.mu.Lock()
	r.raw = nil
	r.mu.Unlock()
}

func (b *beats) run(stop <-chan struct{}) {
	t := time.NewTicker(max(b.every/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			for i := range b.running {
				r := &b.running[i]
				r.mu.Lock()
				if r.raw != nil && now.Sub(r.last) >= b.every {
					_ = r.raw.InProgress() // a lost heartbeat means at worst a redelivery
					r.last = now
				}
				r.mu.Unlock()
			}
		}
	}
}

// paused reports whether Pause asked for a pause, after waiting it out
// (or until ctx is done).
func (l *Loop) paused(ctx context.Context) bool {
	if l.Pause == nil {
		return false
	}
	d := l.Pause()
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

// reserve blocks for at least one free slot, then takes every free one.
func reserve(ctx context.Context, slots chan struct{}) int {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for {
		select {
		case slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
}

// cooledDown waits until cooldown has passed since last; false if ctx
// ended first.
func cooledDown(ctx context.Context, last time.Time, cooldown time.Duration) bool {
	wait := time.Until(last.Add(cooldown))
	if cooldown <= 0 || wait <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func release(slots chan struct{}, n int) {
	for i := 0; i < n; i++ {
		<-slots
	}
}

func (l *Loop) drain(wg *sync.WaitGroup, hardStop context.CancelFunc) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(l.ShutdownGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		l.log.Warn("shutdown grace over, cancelling in-flight handlers", "grace", l.ShutdownGrace.String())
		hardStop()
		<-done
	}
	if err := l.JS.Conn().Flush(); err != nil && !l.JS.Conn().IsClosed() {
		l.log.Warn("flush acks on shutdown", "error", err)
	}
}

// handle runs the handler and settles the message (its worker keeps it
// alive meanwhile: see beats).
func (l *Loop) handle(ctx context.Context, raw jetstream.Msg) {
	if r := raw.Headers().Get(events.HeaderRequeuedFor); r != "" && r != l.Route {
		// A dead letter requeued for another route: not ours to run again.
		if err := raw.Ack(); err != nil {
			l.log.Warn("ack a message requeued for another route", "error", err)
		}
		return
	}
	m := newMsg(l.Route, raw)
	m.Attempt = max(1, m.Attempt-l.deferrals.get(m.Seq()))
	err := l.Handler(ctx, m)
	l.settle(ctx, m, err)
}

func (l *Loop) settle(ctx context.Context, m *Msg, err error) {
	var settleErr error
	delay, deferred := IsDeferred(err)
	if deferred {
		l.deferrals.add(m.Seq())
	} else if err == nil {
		l.deferrals.forget(m.Seq())
	}
	if err == nil {
		if settleErr = m.Raw.Ack(); settleErr == nil {
			l.acks.add(m.Raw.Reply())
		}
	} else if deferred {
		settleErr = m.Raw.NakWithDelay(delay)
	} else if ctx.Err() != nil {
		settleErr = m.Raw.Nak() // shutting down: back to the stream at once
	} else {
		settleErr = m.Raw.NakWithDelay(events.RetryAfterOf(err))
	}
	if settleErr != nil {
		// The message will come back after its ack wait; handlers are
		// idempotent, so this delays work but loses nothing.
		l.log.Warn("settle message", "stream_seq", m.Seq(), "error", settleErr)
	}
}

func (l *Loop) returnMsg(raw jetstream.Msg) {
	if err := raw.Nak(); err != nil {
		l.log.Warn("return unstarted message", "error", err)
	}
}

func isIdle(err error) bool {
	return errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoHeartbeat)
}

func (l *Loop) logPullError(err error) {
	l.log.Warn("pull messages", "error", err)
}

// ErrConsumerGone is returned by Run when its consumer was deleted while
// it ran (by hand, `nats consumer rm`): the loop cannot go on, and a loop
// that only logged it would leave a service that looks healthy and
// handles nothing. Its supervisor stops the process; the restarted
// service creates the consumer again.
var ErrConsumerGone = errors.New("the consumer was deleted while its loop ran")

// consumerGone checks a failed pull: when the consumer may be gone (the
// server said so, or nobody answered the pull request, which is what a
// pull of a deleted consumer gets) and JetStream confirms it (a lookup
// answers "not found", not a timeout during a leader election), it
// returns ErrConsumerGone. So it does when the consumer was deleted and
// created again since the loop bound to it (another creation time): that
// one delivers again what the loop's consumer had acknowledged, and Run
// binds to it afresh when started again.
func (l *Loop) consumerGone(ctx context.Context, err error) error {
	if !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrConsumerDeleted) &&
		!errors.Is(err, nats.ErrNoResponders) {
		return nil
	}
	c, lerr := l.JS.Consumer(ctx, l.Stream, l.Consumer)
	switch {
	case errors.Is(lerr, jetstream.ErrConsumerNotFound):
	case lerr == nil && !c.CachedInfo().Created.Equal(l.created):
	default:
		return nil
	}
	return fmt.Errorf("route %s: consumer %s on %s: %w", l.Route, l.Consumer, l.Stream, ErrConsumerGone)
}

// createdAgain returns ErrConsumerGone when raw was delivered by a
// consumer created again since the loop bound to it, found without a
// failed pull: a consumer numbers every delivery (redeliveries included)
// in order, and the loop pulls one batch at a time, so the sequences it
// receives only grow — unless a new consumer of the same name, counting
// from 1 again, answered. A sequence that did not grow is checked against
// the consumer's creation time (a clustered consumer's new leader may
// number again deliveries its predecessor had not replicated); when it
// changed, raw is handed back (Nak) unrun, with the rest of its batch.
// (Replicas sharing the consumer each see a part of the sequence; one
// whose share of the new consumer's deliveries begins past its highest
// would not notice.)
func (l *Loop) createdAgain(ctx context.Context, raw jetstream.Msg) error {
	meta, err := raw.Metadata()
	if err != nil {
		return nil
	}
	seq := meta.Sequence.Consumer
	if seq > l.delivered {
		l.delivered = seq
		return nil
	}
	l.delivered = seq
	c, err := l.JS.Consumer(ctx, l.Stream, l.Consumer)
	if err != nil || c.CachedInfo().Created.Equal(l.created) {
		return nil // the same consumer, or JetStream cannot say now: a failed pull will tell
	}
	return fmt.Errorf("route %s: consumer %s on %s: delivered sequence %d by a consumer created again: %w",
		l.Route, l.Consumer, l.Stream, seq, ErrConsumerGone)
}

// pause is a capped exponential wait between failed pulls (NATS down,
// consumer gone), so the loop neither spins nor gives up.
type pause struct{ d time.Duration }

func newPause() *pause { return &pause{} }

func (p *pause) reset() { p.d = 0 }

func (p *pause) wait(ctx context.Context) {
	p.d = min(max(2*p.d, 50*time.Millisecond), 2*time.Second)
	t := time.NewTimer(p.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
