package dispatch

import (
	"context"

	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of a microservice call's span: what was called and how it
// went, never the request or the answer.
const (
	attrService  = attribute.Key("pulsehub.service")
	attrTask     = attribute.Key("pulsehub.task")
	attrStatus   = attribute.Key("http.response.status_code")
	attrCacheHit = attribute.Key("pulsehub.cache_hit")
	attrRetry    = attribute.Key("pulsehub.retry")
	attrAttempt  = attribute.Key("pulsehub.attempt")
	attrJobID    = attribute.Key("pulsehub.job_id")
	attrResult   = attribute.Key("pulsehub.result_subject")
)

// callSpan starts the span of one call (or cache answer) of t, a child of
// the message's consume span; the service gets its traceparent.
func callSpan(ctx context.Context, m *consume.Msg, t target) (context.Context, trace.Span) {
	if !tracing.On() {
		return ctx, trace.SpanFromContext(ctx)
	}
	as := []attribute.KeyValue{attrService.String(t.ch.Name()), attrTask.String(t.task), attrAttempt.Int(m.Attempt),
		attrRetry.Bool(m.Attempt > 1)}
	if t.jobID != "" {
		as = append(as, attrJobID.String(t.jobID))
	}
	return tracing.Start(ctx, "dispatcher", "call "+t.ch.Name()+" "+t.task, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(as...))
}

func endCallSpan(span trace.Span, pub published, err error) {
	if pub.Subject != "" && span.IsRecording() {
		span.SetAttributes(attrResult.String(pub.Subject))
	}
	if _, deferred := consume.IsDeferred(err); deferred {
		span.SetAttributes(attribute.Bool("pulsehub.deferred", true))
		err = nil // a breaker or a full channel: no failure
	}
	tracing.End(span, err)
}
