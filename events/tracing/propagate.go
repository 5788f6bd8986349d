package tracing

import (
	"context"
	"net/http"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator reads and writes W3C traceparent and tracestate. The hub
// uses its own rather than the global one (which is a no-op until set), so
// the trace context travels the same whether tracing is on or not.
var propagator = propagation.TraceContext{}

// HeaderCarrier is a propagation.TextMapCarrier over NATS headers, which
// (unlike HTTP's) are case-sensitive: traceparent and tracestate are
// lower case on the wire, as events.HeaderTraceParent.
type HeaderCarrier nats.Header

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces key's values with value.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

// Inject writes ctx's span context into h as traceparent and tracestate,
// when tracing is on and ctx has a valid one; otherwise h keeps what it
// carries (a traceparent that came in is passed on untouched).
func Inject(ctx context.Context, h nats.Header) {
	if !on.Load() || h == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	propagator.Inject(ctx, HeaderCarrier(h))
}

// Extract returns ctx with the remote span context of h (a message's
// headers) as its parent, when h carries a valid traceparent. It works
// with tracing off too, so a message's trace id is known to its logs.
func Extract(ctx context.Context, h nats.Header) context.Context {
	if h == nil || h.Get("traceparent") == "" {
		return ctx
	}
	return propagator.Extract(ctx, HeaderCarrier(h))
}

// InjectHTTP writes ctx's span context into an outgoing HTTP request's
// headers, like Inject.
func InjectHTTP(ctx context.Context, h http.Header) {
	if !on.Load() || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// TraceID is the trace id in a traceparent header value, as 32 hex
// digits, or "" when v is not a valid traceparent. The health page shows
// it for a dead letter.
func TraceID(traceparent string) string {
	h := nats.Header{}
	h.Set("traceparent", traceparent)
	sc := trace.SpanContextFromContext(propagator.Extract(context.Background(), HeaderCarrier(h)))
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// TraceParent is the traceparent of ctx's span when tracing is on and it
// has one, else fallback (the incoming message's, passed on untouched).
// For a header set by hand, like a microservice call's.
func TraceParent(ctx context.Context, fallback string) string {
	if !on.Load() || !trace.SpanContextFromContext(ctx).IsValid() {
		return fallback
	}
	h := propagation.MapCarrier{}
	propagator.Inject(ctx, h)
	return h["traceparent"]
}
