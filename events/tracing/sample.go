package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/codes"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Sampler is the hub's head sampler: a parent's decision is followed, a
// trace started here is sampled with probability ratio — and a span that
// is not sampled is still recorded (not exported), so that the span
// processor can keep it when it fails or is slow.
//
// Why not a tail sampler: a trace of the hub crosses processes (the
// ingester, the writer, the dispatcher, replicas of each), so no process
// sees a whole trace to decide on; that decision belongs to a collector's
// tail-sampling processor, which an operator can add in front of Jaeger or
// Tempo. What one process can do is keep every failed or slow span of an
// unsampled trace, with its trace id and parent id: the operator finds
// the failure by its trace_id (in the log line, the dead letter, the
// health page) even when the rest of its trace was not kept. Recording
// every span costs time; the bench measures it (docs/operations.md).
func Sampler(ratio float64) sdktrace.Sampler {
	return recordAll{sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))}
}

type recordAll struct{ inner sdktrace.Sampler }

func (s recordAll) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	r := s.inner.ShouldSample(p)
	if r.Decision == sdktrace.Drop {
		r.Decision = sdktrace.RecordOnly
	}
	return r
}

func (s recordAll) Description() string { return "RecordAll{" + s.inner.Description() + "}" }

// KeptBecause is the attribute a span exported from an unsampled trace
// carries: "error" or "slow".
const KeptBecause = attribute.Key("pulsehub.kept")

// keep hands next the sampled spans, and those of unsampled traces that
// failed (errors) or lasted at least slow, marked sampled (the batch
// processor drops unsampled spans) and with KeptBecause.
type keep struct {
	next   sdktrace.SpanProcessor
	errors bool
	slow   time.Duration
}

func (k keep) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) { k.next.OnStart(ctx, s) }

func (k keep) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		k.next.OnEnd(s)
		return
	}
	why := ""
	switch {
	case k.errors && s.Status().Code == codes.Error:
		why = "error"
	case k.slow > 0 && s.EndTime().Sub(s.StartTime()) >= k.slow:
		why = "slow"
	default:
		return
	}
	k.next.OnEnd(kept{ReadOnlySpan: s, why: why})
}

func (k keep) Shutdown(ctx context.Context) error   { return k.next.Shutdown(ctx) }
func (k keep) ForceFlush(ctx context.Context) error { return k.next.ForceFlush(ctx) }

// kept is an unsampled span made exportable.
type kept struct {
	sdktrace.ReadOnlySpan
	why string
}

func (s kept) SpanContext() trace.SpanContext {
	sc := s.ReadOnlySpan.SpanContext()
	return sc.WithTraceFlags(sc.TraceFlags().WithSampled(true))
}

func (s kept) Attributes() []attribute.KeyValue {
	return append(s.ReadOnlySpan.Attributes(), KeptBecause.String(s.why))
}
