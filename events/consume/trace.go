package consume

import (
	"context"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing makes each delivery a consumer span named "consume <route>", a
// child of the span that published the message (its traceparent header):
// a redelivery, a replay (`hub replay` re-reads the stored message) and a
// requeued dead letter (which keeps the original's headers) are each one
// more child in the event's trace. Its attributes say where the message
// is and how long it waited in the stream (pulsehub.queue_ms); never its
// body. With tracing off it only puts the message's trace context in ctx,
// so log lines carry its trace_id.
func Tracing(next Handler) Handler {
	return func(ctx context.Context, m *Msg) error {
		ctx = tracing.Extract(ctx, m.Raw.Headers())
		if !tracing.On() {
			return next(ctx, m)
		}
		ctx, span := tracing.Start(ctx, "consume", "consume "+m.Route, trace.WithSpanKind(trace.SpanKindConsumer))
		if span.IsRecording() { // an unsampled span that nothing keeps costs no attributes
			span.SetAttributes(consumeAttrs(m)...)
		}
		err := next(ctx, m)
		_, deferred := IsDeferred(err)
		switch {
		case m.deadLettered:
			span.SetStatus(codes.Error, "dead-lettered")
			span.AddEvent("dead-lettered", trace.WithAttributes(attribute.Int("pulsehub.attempt", m.Attempt)))
		case deferred:
			span.SetAttributes(attribute.Bool("pulsehub.deferred", true))
		case err != nil:
			span.SetAttributes(attribute.Bool("pulsehub.retry", ctx.Err() == nil))
			tracing.Fail(span, err)
		}
		span.End()
		return err
	}
}

func consumeAttrs(m *Msg) []attribute.KeyValue {
	as := []attribute.KeyValue{semconv.MessagingSystemKey.String("nats"), semconv.MessagingDestinationName(m.Subject()),
		attribute.String("pulsehub.route", m.Route), attribute.String("pulsehub.event_id", m.Event.ID),
		attribute.String("pulsehub.correlation_id", m.Event.Correlation()), attribute.Int("pulsehub.attempt", m.Attempt)}
	if m.Meta != nil {
		as = append(as, attribute.String("pulsehub.stream", m.Meta.Stream), attribute.Int64("pulsehub.stream_seq", int64(m.Meta.Sequence.Stream)),
			attribute.String("pulsehub.consumer", m.Meta.Consumer), attribute.Int64("pulsehub.num_delivered", int64(m.Meta.NumDelivered)),
			attribute.Bool("pulsehub.replay", strings.HasSuffix(m.Meta.Consumer, stream.ReplaySuffix)),
			attribute.Float64("pulsehub.queue_ms", float64(time.Since(m.Meta.Timestamp).Microseconds())/1000))
	}
	if from := m.Raw.Headers().Get(events.HeaderRequeuedFrom); from != "" {
		as = append(as, attribute.String("pulsehub.requeued_from", from))
	}
	return as
}
