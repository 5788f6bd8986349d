// Package consume is the hub's one consume loop: a durable pull consumer
// read with explicit acks and bounded concurrency, long handlers kept alive
// with InProgress, and a graceful drain on shutdown that hands unfinished
// messages back to the stream. Cross-cutting concerns — retry with backoff,
// dead-lettering, logging with correlation ids, Prometheus metrics, panic
// recovery — are middleware around one Handler type, written once here and
// used by every service.
//
// Settling is decided from what the handler chain returns:
//
//   - nil: the message is acknowledged;
//   - an error made by Defer: negatively acknowledged with that delay, and
//     not counted as a failure (a circuit breaker that is open);
//   - any other error: negatively acknowledged with the delay the Retry
//     middleware attached (events.RetryAfterOf), so waiting for a retry
//     holds neither a worker nor the stream.
//
// Retry's zero hooks retry every error that is not permanent, after an
// exponential backoff or the error's own Retry-After, whichever is longer,
// up to MaxAttempts deliveries. Its hooks set the policy per message
// instead: ShouldRetry (retry this failure at all?), Delay (the wait
// before the next delivery, e.g. a job's retry_pattern) and OnRetryHook
// (told of each retry decided).
//
// The DeadLetter middleware turns permanent errors and exhausted attempts
// into a published dead letter and a nil, so the original is acknowledged
// only once its dead letter is stored.
//
// An ack is a publish nobody answers, so one sent while the connection's
// server or the consumer's leader dies is lost silently and its message
// comes back after the ack wait. After such trouble (a reconnect, failed
// or unanswered pulls) the loop sends the acks of the last two ack waits
// again as soon as its consumer answers a pull; the server ignores an ack
// it already has.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/nats-io/nats.go/jetstream"
)

// Msg is one message being handled.
type Msg struct {
	Raw   jetstream.Msg          // the JetStream message (headers, data, ack methods)
	Event events.Event           // its envelope, decoded
	Meta  *jetstream.MsgMetadata // stream, sequences, deliveries
	Route string                 // the route (= durable consumer) it arrived on

	// Attempt is this delivery's number, from 1. It starts as JetStream's
	// delivery count; a middleware that knows better (the dispatcher counts
	// breaker waits as no attempt) may lower it before Retry runs.
	Attempt int

	deadLettered bool
	exhausted    bool
	log          *slog.Logger
	lazyLog      *lazyLog // Logging's, built by the first Logger call
}

// lazyLog is what Logging knows of a message's logger when it starts:
// most messages log nothing (success is logged at debug), so the logger
// and its attributes are made only when asked for.
type lazyLog struct {
	once    sync.Once
	base    *slog.Logger
	attempt int         // the attempt when Logging started
	ids     []slog.Attr // trace_id, span_id of the Tracing middleware's span
}

func newMsg(route string, raw jetstream.Msg) *Msg {
	m := &Msg{Raw: raw, Route: route, Event: events.FromMsg(raw.Headers(), raw.Data()), Attempt: 1}
	if meta, err := raw.Metadata(); err == nil {
		m.Meta = meta
		m.Attempt = int(meta.NumDelivered)
	}
	return m
}

// Subject is the subject the message was published on.
func (m *Msg) Subject() string { return m.Raw.Subject() }

// Data is the message body.
func (m *Msg) Data() []byte { return m.Raw.Data() }

// Stream is the stream the message is stored in.
func (m *Msg) Stream() string {
	if m.Meta == nil {
		return ""
	}
	return m.Meta.Stream
}

// Seq is the message's sequence in its stream.
func (m *Msg) Seq() uint64 {
	if m.Meta == nil {
		return 0
	}
	return m.Meta.Sequence.Stream
}

// DeadLettered reports whether the DeadLetter middleware stored it in DLQ.
func (m *Msg) DeadLettered() bool { return m.deadLettered }

// Exhausted reports whether the Retry middleware gave up on it.
func (m *Msg) Exhausted() bool { return m.exhausted }

// Logger returns the message's logger (with route, subject, sequence and
// correlation id) set by the Logging middleware, or slog.Default.
func (m *Msg) Logger() *slog.Logger {
	if l := m.lazyLog; l != nil {
		l.once.Do(func() {
			m.log = l.base.With("correlation_id", m.Event.Correlation(), "route", m.Route, "subject", m.Subject(),
				"stream_seq", m.Seq(), "event_id", m.Event.ID, "attempt", l.attempt)
			if l.ids != nil {
				m.log = m.log.With(l.ids[0], l.ids[1])
			}
		})
	}
	if m.log != nil {
		return m.log
	}
	return slog.Default()
}

// Handler handles one message. Its error decides how the message is settled.
type Handler func(ctx context.Context, m *Msg) error

// Middleware wraps a Handler.
type Middleware func(Handler) Handler

// Chain wraps h in mws; the first middleware is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// deferred asks for redelivery after a delay without counting a failure.
type deferred struct {
	delay  time.Duration
	reason string
}

func (d *deferred) Error() string { return fmt.Sprintf("deferred %s: %s", d.delay, d.reason) }

// Defer returns an error that settles the message with a delayed Nak and
// is not a failure: nothing is retried or dead-lettered because of it.
func Defer(delay time.Duration, reason string) error { return &deferred{delay: delay, reason: reason} }

// IsDeferred reports whether err came from Defer, and its delay.
func IsDeferred(err error) (time.Duration, bool) {
	if err == nil {
		return 0, false // without errors.As's target, which escapes: called several times per message
	}
	var d *deferred
	if errors.As(err, &d) {
		return d.delay, true
	}
	return 0, false
}
