package intake

import (
	"net/http"

	"github.com/insightpulse/pulsehub/events/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// startSpan starts the request's server span, a new root. Its name and
// attributes hold the route pattern, never the path (an Odoo webhook's
// path holds its token).
func (e Endpoint) startSpan(r *http.Request) (*http.Request, trace.Span) {
	if !tracing.On() {
		return r, trace.SpanFromContext(r.Context())
	}
	ctx, span := tracing.Start(r.Context(), "ingester", r.Method+" "+r.Pattern, trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.HTTPRoute(r.Pattern), attribute.String("pulsehub.source", e.Source)))
	return r.WithContext(ctx), span
}

// endSpan records what the request became: status, outcome, the stored
// event's place. Result.Attrs are what the request's log line carries
// (subject, stream, stream_seq, event_id, event, delivery); only those
// listed here become attributes.
func endSpan(span trace.Span, res Result) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(res.Status), attribute.String("pulsehub.outcome", res.Outcome))
	if res.CorrelationID != "" {
		span.SetAttributes(attribute.String("pulsehub.correlation_id", res.CorrelationID))
	}
	for i := 0; i+1 < len(res.Attrs); i += 2 {
		k, _ := res.Attrs[i].(string)
		switch v := res.Attrs[i+1].(type) {
		case string:
			if spanKeys[k] {
				span.SetAttributes(attribute.String("pulsehub."+k, v))
			}
		case uint64:
			if spanKeys[k] {
				span.SetAttributes(attribute.Int64("pulsehub."+k, int64(v)))
			}
		}
	}
	if res.Status >= 500 {
		span.SetStatus(codes.Error, res.Outcome)
	}
}

// spanKeys are the log attributes of a request that describe where its
// event went: names and ids, no value from the payload.
var spanKeys = map[string]bool{"subject": true, "stream": true, "stream_seq": true, "event_id": true}
