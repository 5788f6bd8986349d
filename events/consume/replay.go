package consume

import (
	"context"
	"errors"
	"time"

	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/supervise"
	"github.com/nats-io/nats.go/jetstream"
)

// ReplayPoll is how often RunRoute looks for a replay consumer.
var ReplayPoll = 2 * time.Second

// RunRoute runs a route's loop and, whenever `hub replay` (or an operator
// with `nats consumer add`) has created the route's replay consumer
// (stream.ReplayName), a second loop with the same handler on it until it
// has delivered and settled everything, then deletes it. Live events keep
// flowing on the route's own consumer meanwhile, and no other route sees
// the replayed events. Every replica of a service runs this; they share
// the replay consumer like they share the route's.
func RunRoute(ctx context.Context, l *Loop) error {
	l.defaults()
	g := supervise.New(ctx)
	g.Go("consumer "+l.Consumer, l.Run)
	w := &replayWatcher{main: l}
	g.Go("replays of "+l.Consumer, func(ctx context.Context) error { w.watch(ctx); return nil })
	return g.Wait()
}

type replayWatcher struct {
	main    *Loop
	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time
}

func (w *replayWatcher) watch(ctx context.Context) {
	t := time.NewTicker(ReplayPoll)
	defer t.Stop()
	for {
		w.check(ctx)
		select {
		case <-ctx.Done():
			w.stop()
			return
		case <-t.C:
		}
	}
}

func (w *replayWatcher) check(ctx context.Context) {
	name := stream.ReplayName(w.main.Route)
	c, err := w.main.JS.Consumer(ctx, w.main.Stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		w.stop() // deleted by hand, or by another replica once drained
		return
	}
	if err != nil {
		return // NATS unreachable: the main loop logs it; look again later
	}
	if w.cancel == nil {
		w.start(ctx, name, stream.ReplayEndSeq(c.CachedInfo().Config.Metadata))
		return
	}
	info, err := c.Info(ctx)
	if err != nil || info.NumPending > 0 || info.NumAckPending > 0 || time.Since(w.started) < ReplayPoll {
		return
	}
	w.stop()
	if err := w.main.JS.DeleteConsumer(ctx, w.main.Stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		w.main.log.Warn("delete drained replay consumer", "consumer", name, "error", err)
		return
	}
	w.main.log.Info("replay finished", "consumer", name, "delivered", info.Delivered.Stream, "took", time.Since(w.started).String())
}

// start runs the replay loop. Messages after end (when set) arrived after
// the replay was asked for: the route's own consumer handles them, so the
// replay acknowledges them without running the handler.
func (w *replayWatcher) start(ctx context.Context, name string, end uint64) {
	rctx, cancel := context.WithCancel(ctx)
	w.cancel, w.done, w.started = cancel, make(chan struct{}), time.Now()
	handler := w.main.Handler
	if end > 0 {
		handler = func(ctx context.Context, m *Msg) error {
			if m.Seq() > end {
				return nil
			}
			return w.main.Handler(ctx, m)
		}
	}
	replay := &Loop{JS: w.main.JS, Stream: w.main.Stream, Consumer: name, Route: w.main.Route, Handler: handler,
		Concurrency: w.main.Concurrency, ShutdownGrace: w.main.ShutdownGrace, PollWait: w.main.PollWait, Logger: w.main.Logger,
		Pause: w.main.Pause}
	w.main.log.Info("replay started", "consumer", name, "end_seq", end)
	go func() {
		defer close(w.done)
		if err := replay.Run(rctx); err != nil {
			w.main.log.Warn("replay loop", "consumer", name, "error", err)
		}
	}()
}

func (w *replayWatcher) stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
	w.cancel, w.done = nil, nil
}
