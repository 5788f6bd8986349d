package tracing

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// LogAttrs are the trace_id and span_id of ctx's span, for a log line
// about it; none when ctx has no valid span context.
func LogAttrs(ctx context.Context) []slog.Attr {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []slog.Attr{slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String())}
}

// LogHandler wraps h so that a line logged with a context that holds a
// span (logger.InfoContext(ctx, ...)) carries its trace_id and span_id.
// service.NewLogger applies it.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ next slog.Handler }

func (h logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if as := LogAttrs(ctx); as != nil {
		r = r.Clone()
		r.AddAttrs(as...)
	}
	return h.next.Handle(ctx, r)
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler { return logHandler{h.next.WithAttrs(as)} }
func (h logHandler) WithGroup(name string) slog.Handler    { return logHandler{h.next.WithGroup(name)} }

// Observe records v in o, with ctx's trace id as the exemplar when its
// span is sampled (an exemplar should lead to a trace that was kept).
// /metrics serves OpenMetrics, which carries exemplars, to scrapers that
// ask for it.
func Observe(ctx context.Context, o prometheus.Observer, v float64) {
	if on.Load() {
		if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
			if eo, ok := o.(prometheus.ExemplarObserver); ok {
				eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
				return
			}
		}
	}
	o.Observe(v)
}
