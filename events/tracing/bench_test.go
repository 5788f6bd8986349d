package tracing_test

import (
	"context"
	"testing"

	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/events/tracing/tracingtest"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkHop is what tracing adds to one hop of an event: look for the
// message's traceparent (there is none), start a root span with the consume span's ten
// attributes, inject its context into the next message's headers, end it
// (handed to a batch processor whose exporter drops the spans). Off,
// sampled at 1.0, the default sampler (0.1, every span recorded), and 0.1
// with nothing kept (only sampled spans recorded).
//
//	go test -run '^$' -bench Hop -benchmem ./events/tracing
func BenchmarkHop(b *testing.B) {
	for _, s := range []struct {
		name  string
		on    bool
		ratio float64
		keep  bool
	}{{"off", false, 0, true}, {"ratio-1.0", true, 1, true}, {"default", true, tracing.DefaultConfig().SampleRatio, true},
		{"ratio-0.1-keep-nothing", true, tracing.DefaultConfig().SampleRatio, false}} {
		b.Run(s.name, func(b *testing.B) {
			if s.on {
				c := tracingtest.All()
				c.SampleRatio = s.ratio
				if !s.keep {
					c.KeepErrors, c.KeepSlow = false, 0
				}
				tp, err := tracing.NewProvider(context.Background(), c, sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(tracing.Install(tp))
			}
			in := nats.Header{} // no traceparent: each hop is a trace's root, so the sampler's ratio decides
			attrs := []attribute.KeyValue{attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", "github.issues.opened"),
				attribute.String("pulsehub.route", "github-issues"), attribute.String("pulsehub.event_id", "00004242-e2e0-4000-8000-763045995880"),
				attribute.String("pulsehub.correlation_id", "00004242-e2e0-4000-8000-763045995880"), attribute.Int("pulsehub.attempt", 1),
				attribute.String("pulsehub.stream", "GITHUB"), attribute.Int64("pulsehub.stream_seq", 42), attribute.String("pulsehub.consumer", "github-issues"),
				attribute.Float64("pulsehub.queue_ms", 1.5)}
			b.ReportAllocs()
			for b.Loop() {
				ctx := tracing.Extract(context.Background(), in)
				ctx, span := tracing.Start(ctx, "consume", "consume github-issues", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
				out := nats.Header{}
				tracing.Inject(ctx, out)
				tracing.End(span, nil)
			}
		})
	}
}
