// Package tracing is the hub's one place for OpenTelemetry tracing: the
// `tracing:` section of hub.yaml, the TracerProvider built from it and
// the standard OTEL_* variables, the sampler that keeps every failed or
// slow span, the W3C trace context carried in NATS headers (traceparent,
// tracestate: the CloudEvents distributed-tracing extension), and what
// logs and metrics take from the current span (trace_id, span_id,
// exemplars).
//
// Tracing is off by default; then Start returns the context unchanged and
// a span that records nothing, Inject leaves a message's traceparent as
// it came (the hub passes it on untouched, as before), and nothing is
// exported. `tracing.enabled: true` turns it on for the whole process:
// every service of `hub run` shares one provider, and each names its
// spans by its own tracer (the instrumentation scope).
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config is the `tracing:` section.
type Config struct {
	// Enabled turns tracing on: spans are exported over OTLP/HTTP to
	// Endpoint (or where OTEL_EXPORTER_OTLP_ENDPOINT says). Default false.
	Enabled bool `yaml:"enabled"`
	// Endpoint is the collector's OTLP/HTTP base URL (Jaeger, Grafana
	// Tempo, an OpenTelemetry Collector), e.g. http://localhost:4318;
	// spans go to its /v1/traces. OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT, when set, win over it. Default: those
	// variables, else http://localhost:4318.
	Endpoint string `yaml:"endpoint"`
	// SampleRatio is the share of traces started by the hub (a webhook, a
	// job enqueued without a trace) that are exported whole, from 0 to 1;
	// a message that arrives with a traceparent follows its sampled flag.
	// OTEL_TRACES_SAMPLER, when set, replaces this sampler. Default 0.1.
	SampleRatio float64 `yaml:"sample_ratio"`
	// KeepErrors exports a span that ends in an error even when its trace
	// was not sampled. Default true.
	KeepErrors bool `yaml:"keep_errors"`
	// KeepSlow exports a span that lasts at least this long even when its
	// trace was not sampled; 0 = off. Default 1s. With keep_errors false
	// and keep_slow 0, spans of unsampled traces are not even recorded,
	// which costs less CPU (docs/performance.md, scenario 8).
	KeepSlow time.Duration `yaml:"keep_slow"`
}

// DefaultConfig is tracing off, with the sampler it has when turned on.
func DefaultConfig() Config {
	return Config{SampleRatio: 0.1, KeepErrors: true, KeepSlow: time.Second}
}

// Validate reports a ratio out of range, a bad endpoint or a negative
// threshold.
func (c Config) Validate(path string) config.Problems {
	var ps config.Problems
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		ps.Add(path+".sample_ratio", "must be between 0 and 1, not %g", c.SampleRatio)
	}
	if c.KeepSlow < 0 {
		ps.Add(path+".keep_slow", "must not be negative")
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.Add(path+".endpoint", "must be an http:// or https:// URL, e.g. http://localhost:4318")
		} else if u.User != nil {
			ps.Add(path+".endpoint", "must not hold credentials: set them in OTEL_EXPORTER_OTLP_HEADERS")
		}
	}
	return ps
}

// on is whether a provider was installed (Setup or Install): the hot
// paths ask it before anything else, so tracing off costs one load.
var on atomic.Bool

// provider is the installed provider. The hub keeps its own rather than
// otel's global, so nothing else in the process changes where its spans go.
var provider atomic.Pointer[trace.TracerProvider]

// On reports whether tracing is on in this process.
func On() bool { return on.Load() }

// Scope is the prefix of every tracer's name (the instrumentation scope).
const Scope = "github.com/insightpulse/pulsehub/"

// Tracer returns the tracer of a part of the hub, e.g. Tracer("ingester").
func Tracer(part string) trace.Tracer {
	if p := provider.Load(); p != nil {
		return (*p).Tracer(Scope + part)
	}
	return noop.NewTracerProvider().Tracer(Scope + part)
}

// Start starts a span named name from tracer part, a child of ctx's span.
// With tracing off it returns ctx and the span already in it (which
// records nothing) at the cost of one atomic load.
func Start(ctx context.Context, part, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !on.Load() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return Tracer(part).Start(ctx, name, opts...)
}

// End ends span, marking it failed when err is not nil.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		Fail(span, err)
	}
	span.End()
}

// Fail marks span as failed. Its description is the failure's kind
// (transient, permanent), never the error's text, which may quote a value
// of the payload or what a service echoed: the log line of the same
// failure has it, under the same trace_id.
func Fail(span trace.Span, err error) {
	span.SetStatus(codes.Error, events.Classify(err).String())
}

// Setup builds the process's TracerProvider from c and the OTEL_*
// variables and installs it. With tracing off (or OTEL_SDK_DISABLED=true)
// it installs nothing and returns a shutdown that does nothing. The
// shutdown flushes the spans not yet exported, within ctx.
func Setup(ctx context.Context, c Config, log *slog.Logger) (shutdown func(context.Context) error, err error) {
	none := func(context.Context) error { return nil }
	if !c.Enabled || strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return none, nil
	}
	var opts []otlptracehttp.Option
	if c.Endpoint != "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(c.Endpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return none, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	tp, err := NewProvider(ctx, c, sdktrace.NewBatchSpanProcessor(exp))
	if err != nil {
		return none, err
	}
	restore := Install(tp)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		// An unreachable collector: said at warn, never with the headers
		// (OTEL_EXPORTER_OTLP_HEADERS may hold a token).
		log.Warn("tracing: export failed", "error", config.Scrub(err.Error()))
	}))
	log.Info("tracing on", "sample_ratio", c.SampleRatio, "sampler_from_env", os.Getenv("OTEL_TRACES_SAMPLER") != "",
		"keep_errors", c.KeepErrors, "keep_slow", c.KeepSlow.String())
	return func(ctx context.Context) error {
		defer restore()
		return tp.Shutdown(ctx)
	}, nil
}

// NewProvider builds a provider that hands spans to next as c's sampler
// decides: the sampled ones, and (c.KeepErrors, c.KeepSlow) the failed or
// slow ones of traces that were not. Tests pass a tracetest.SpanRecorder
// or an in-memory exporter's processor.
func NewProvider(ctx context.Context, c Config, next sdktrace.SpanProcessor) (*sdktrace.TracerProvider, error) {
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName("pulsehub")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && res == nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res),
		sdktrace.WithSpanProcessor(keep{next: next, errors: c.KeepErrors, slow: c.KeepSlow})}
	switch {
	case os.Getenv("OTEL_TRACES_SAMPLER") != "":
	case !c.KeepErrors && c.KeepSlow == 0:
		// Nothing to keep from unsampled traces: do not record them.
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))))
	default:
		opts = append(opts, sdktrace.WithSampler(Sampler(c.SampleRatio)))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// Install makes tp the process's provider and turns tracing on; restore
// turns it off again. For Setup and tests.
func Install(tp trace.TracerProvider) (restore func()) {
	provider.Store(&tp)
	on.Store(true)
	return func() {
		on.Store(false)
		provider.Store(nil)
	}
}
