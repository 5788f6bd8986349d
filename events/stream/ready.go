package stream

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ReadyTimeout bounds how long Ensure, EnsureBucket and EnsureConsumer
// retry while JetStream cannot answer yet: a cluster electing its meta
// leader or a stream's leader, or a server still starting (4–7 s measured
// on the 3-node cluster of deploy/nats). The caller's context can end it
// sooner.
var ReadyTimeout = 60 * time.Second

// Transient reports whether err from a JetStream API call is worth asking
// again: the client is not connected yet (a service started before its
// NATS server, or reconnecting), no server answered (no responders, a
// timeout), or JetStream said it is temporarily unavailable or the stream
// is offline. Everything else (a refused configuration, ErrIncompatible, a
// connection closed for good) is an answer.
func Transient(err error) bool {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrDisconnected) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case 10008, // JetStream system temporarily unavailable
			10118, 10194: // stream is offline
			return true
		}
		return apiErr.Code == 503
	}
	return false
}

// untilReady runs fn until it succeeds, fails with an error that is not
// Transient, ReadyTimeout passes, or ctx ends. Every path that creates
// streams, buckets or consumers goes through it, so none of them fails
// on a leader election.
func untilReady(ctx context.Context, fn func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.MaxElapsedTime = ReadyTimeout
	return backoff.Retry(func() error {
		err := fn()
		if err != nil && (!Transient(err) || ctx.Err() != nil) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx))
}

// publishAttempt bounds one attempt of Publish, so that a request lost in
// a leader election (no answer ever comes) leaves time for the next.
const publishAttempt = time.Second

// defaultPublishWait bounds Publish when ctx has no deadline.
const defaultPublishWait = 5 * time.Second

// Publish publishes msg and waits for JetStream's acknowledgement, riding
// out a leader election: a transient failure (no stream leader yet, no
// answer within an attempt, JetStream temporarily unavailable) is tried
// again, 50 ms and then up to 500 ms apart, until ctx ends (5s when it has
// no deadline) — the caller's own deadline (a webhook sender's patience)
// bounds it, not a count. An attempt whose answer was lost may have stored
// the message: the retry is safe when msg carries a Nats-Msg-Id (every
// message the hub publishes does: its ce-id), which JetStream's duplicate
// window drops; without one, only failures that prove nothing was stored
// (no responders, "temporarily unavailable") are retried.
//
// Every publisher of the hub goes through it: the ingester, dispatcher
// results, dead letters, job records, health transitions, requeues.
//
// With tracing on, the publish is a producer span, a child of ctx's, and
// its context replaces the message's traceparent (tracing.Inject), so
// each consumer's span is its child.
func Publish(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if !tracing.On() {
		return publish(ctx, js, msg, opts...)
	}
	ctx, span := publishSpan(ctx, msg)
	ack, err := publish(ctx, js, msg, opts...)
	endPublishSpan(span, ack, err)
	return ack, err
}

// publishSpan starts a publish's producer span, a child of ctx's, and
// puts its context in msg's traceparent.
func publishSpan(ctx context.Context, msg *nats.Msg) (context.Context, trace.Span) {
	ctx, span := tracing.Start(ctx, "stream", "publish "+subjectFamily(msg.Subject), trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(semconv.MessagingSystemKey.String("nats"), semconv.MessagingDestinationName(msg.Subject),
			attribute.String("messaging.message.id", msg.Header.Get(jetstream.MsgIDHeader)))
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	tracing.Inject(ctx, msg.Header)
	return ctx, span
}

func endPublishSpan(span trace.Span, ack *jetstream.PubAck, err error) {
	if ack != nil && span.IsRecording() {
		span.SetAttributes(attribute.String("pulsehub.stream", ack.Stream), attribute.Int64("pulsehub.stream_seq", int64(ack.Sequence)),
			attribute.Bool("pulsehub.duplicate", ack.Duplicate))
	}
	tracing.End(span, err)
}

// Pending is a message PublishAsync sent: Wait returns its
// acknowledgement.
type Pending struct {
	js   jetstream.JetStream
	msg  *nats.Msg
	opts []jetstream.PublishOpt
	f    jetstream.PubAckFuture
	err  error      // the send's own failure
	span trace.Span // nil with tracing off
}

// PublishAsync is Publish without waiting: msg is on its way when it
// returns, and Pending.Wait waits for its acknowledgement. A writer with
// several messages to store sends them all, then waits once for each,
// rather than paying a round trip per message in turn; the wait is the
// same as Publish's, retry loop included. Like Publish, it is a producer
// span with tracing on (ended by Wait).
func PublishAsync(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, opts ...jetstream.PublishOpt) *Pending {
	p := &Pending{js: js, msg: msg, opts: opts}
	if tracing.On() {
		_, p.span = publishSpan(ctx, msg)
	}
	p.f, p.err = js.PublishMsgAsync(msg, opts...)
	return p
}

// Wait returns the acknowledgement of p's message. A failure that
// Publish would retry (no stream answered, no answer within an attempt
// for a message with a Nats-Msg-Id) continues in Publish's retry loop,
// within ctx (5s when it has no deadline). Call it once.
func (p *Pending) Wait(ctx context.Context) (*jetstream.PubAck, error) {
	ack, err := p.wait(ctx, publishAttempt)
	if p.retry(ctx, err) {
		ack, err = publish(ctx, p.js, p.msg, p.opts...)
	}
	p.end(ack, err)
	return ack, err
}

// WaitTimeout is Wait with ctx bounded to d from now, but the bounded
// context is made only when a retry needs it: an answer within the first
// attempt, the common case, costs one timer (a context with a timeout per
// message was ~3 % of the ingester's CPU).
func (p *Pending) WaitTimeout(ctx context.Context, d time.Duration) (*jetstream.PubAck, error) {
	start := time.Now()
	ack, err := p.wait(ctx, min(publishAttempt, d))
	if p.retry(ctx, err) {
		if left := d - time.Since(start); left > 0 {
			rctx, cancel := context.WithTimeout(ctx, left)
			ack, err = publish(rctx, p.js, p.msg, p.opts...)
			cancel()
		}
	}
	p.end(ack, err)
	return ack, err
}

// retry says whether the first answer's err is one Publish's loop tries again.
func (p *Pending) retry(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && retryPublish(err, p.msg.Header.Get(jetstream.MsgIDHeader) != "")
}

func (p *Pending) end(ack *jetstream.PubAck, err error) {
	if p.span != nil {
		endPublishSpan(p.span, ack, err)
	}
}

// wait waits for the first answer, at most limit (one attempt's time; one
// timer: the common case, an answer within it, makes no context).
func (p *Pending) wait(ctx context.Context, limit time.Duration) (*jetstream.PubAck, error) {
	if p.err != nil {
		return nil, p.err
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case ack := <-p.f.Ok():
		return ack, nil
	case err := <-p.f.Err():
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, nats.ErrTimeout
	}
}

// subjectFamily is a subject's first token (github, odoo, jobs, results, dlq,
// health): a span name of low cardinality.
func subjectFamily(subject string) string {
	if i := strings.IndexByte(subject, '.'); i > 0 {
		return subject[:i]
	}
	return subject
}

func publish(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultPublishWait)
		defer cancel()
	}
	idempotent := msg.Header.Get(jetstream.MsgIDHeader) != ""
	opts = append(opts[:len(opts):len(opts)], jetstream.WithRetryAttempts(0))
	wait := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, publishAttempt)
		ack, err := js.PublishMsg(actx, msg, opts...)
		cancel()
		if err == nil || ctx.Err() != nil || !retryPublish(err, idempotent) {
			return ack, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// errDuplicateInProcess is JetStream's 409 "duplicate message id is in
// process" (JSStreamDuplicateMessageConflict).
const errDuplicateInProcess = 10158

// retryPublish says whether a failed publish may be sent again.
func retryPublish(err error, idempotent bool) bool {
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return true // nothing received it
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return idempotent // it may have been stored: only a de-duplicated message is safe to send again
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errDuplicateInProcess {
		// The copy of an earlier attempt whose answer timed out is still
		// being stored (a loaded cluster): asked again, the stream answers
		// with that copy's PubAck (Duplicate) once it is stored.
		return idempotent
	}
	return Transient(err)
}
