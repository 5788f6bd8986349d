package batch

import (
	"context"

	"github.com/insightpulse/pulsehub/events/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// batchSpan starts the span of one batch; its Odoo calls are its
// children. A batch of one message continues that message's trace; a
// larger one starts a trace of its own that links to the span of every
// message it writes (a span has one parent, and a batch has many).
func batchSpan(ctx context.Context, items []*item) (context.Context, trace.Span) {
	if !tracing.On() {
		return ctx, trace.SpanFromContext(ctx)
	}
	p := items[0].plan
	opts := []trace.SpanStartOption{trace.WithAttributes(attribute.String("pulsehub.route", p.Route),
		attribute.String("pulsehub.op", p.Op), attribute.String("odoo.model", p.Model), attribute.Int("pulsehub.batch_size", len(items)))}
	if len(items) == 1 {
		ctx = trace.ContextWithSpanContext(ctx, items[0].trace)
	} else {
		links := make([]trace.Link, 0, len(items))
		for _, it := range items {
			if it.trace.IsValid() {
				links = append(links, trace.Link{SpanContext: it.trace})
			}
		}
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(links...))
	}
	return tracing.Start(ctx, "odoowriter", "odoo batch "+p.Op, opts...)
}

func endBatchSpan(span trace.Span, errs []error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	span.SetAttributes(attribute.Int("pulsehub.failed", failed))
	if failed > 0 {
		span.SetStatus(codes.Error, "failed")
	}
	span.End()
}
