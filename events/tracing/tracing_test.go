package tracing_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/events/tracing/tracingtest"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
)

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		tune func(*tracing.Config)
		want string
	}{
		{"default", func(*tracing.Config) {}, ""},
		{"ratio over 1", func(c *tracing.Config) { c.SampleRatio = 1.5 }, "tracing.sample_ratio"},
		{"negative ratio", func(c *tracing.Config) { c.SampleRatio = -0.1 }, "tracing.sample_ratio"},
		{"negative slow", func(c *tracing.Config) { c.KeepSlow = -time.Second }, "tracing.keep_slow"},
		{"endpoint without scheme", func(c *tracing.Config) { c.Endpoint = "localhost:4318" }, "tracing.endpoint"},
		{"endpoint with credentials", func(c *tracing.Config) { c.Endpoint = "https://u:p@tempo:4318" }, "must not hold credentials"},
		{"good endpoint", func(c *tracing.Config) { c.Endpoint = "http://jaeger:4318" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tracing.DefaultConfig()
			tc.tune(&c)
			ps := c.Validate("tracing")
			if tc.want == "" && len(ps) > 0 || tc.want != "" && !strings.Contains(ps.Err().Error()+"", tc.want) {
				t.Fatalf("problems %v, want %q", ps, tc.want)
			}
		})
	}
}

// With the ratio at 0 nothing is sampled, yet a span that fails and a
// span that lasts longer than keep_slow are exported, marked with why;
// an ordinary one is not.
func TestUnsampledTracesKeepTheirFailedAndSlowSpans(t *testing.T) {
	c := tracingtest.All()
	c.SampleRatio, c.KeepSlow = 0, time.Minute
	rec := tracingtest.Install(t, c)
	ctx := context.Background()
	_, ok := tracing.Start(ctx, "test", "fine")
	ok.End()
	_, bad := tracing.Start(ctx, "test", "failed")
	tracing.End(bad, events.Permanentf("the record holds secret-value-42"))
	_, slow := tracing.Start(ctx, "test", "slow", trace.WithTimestamp(time.Now().Add(-2*time.Minute)))
	slow.End()

	if got := rec.Find("fine"); len(got) != 0 {
		t.Fatalf("an unsampled ordinary span was exported")
	}
	failed := rec.Find("failed", tracing.KeptBecause.String("error"))
	if len(failed) != 1 || !failed[0].SpanContext().IsSampled() || failed[0].Status().Description != "permanent" {
		t.Fatalf("failed span: %s", rec.Dump())
	}
	if got := rec.Find("slow", tracing.KeptBecause.String("slow")); len(got) != 1 {
		t.Fatalf("slow span: %s", rec.Dump())
	}
	if leaks := rec.Leaks("secret-value-42"); len(leaks) > 0 {
		t.Fatalf("an error's text reached a span: %v", leaks)
	}
}

// A sampled parent's children are sampled; an unsampled remote parent's
// are recorded (so they can be kept) but not exported when they succeed.
func TestTheParentsDecisionIsFollowed(t *testing.T) {
	rec := tracingtest.Install(t, tracing.Config{SampleRatio: 0, KeepErrors: true})
	h := nats.Header{}
	h.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	_, sampled := tracing.Start(tracing.Extract(context.Background(), h), "test", "child of sampled")
	sampled.End()
	h.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319d-b7ad6b7169203331-00")
	_, unsampled := tracing.Start(tracing.Extract(context.Background(), h), "test", "child of unsampled")
	if !unsampled.IsRecording() {
		t.Fatal("a span of an unsampled trace is not recorded: its failure could not be kept")
	}
	unsampled.End()
	got := rec.Find("child of sampled")
	if len(got) != 1 || got[0].SpanContext().TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
		t.Fatalf("spans: %s", rec.Dump())
	}
	if len(rec.Find("child of unsampled")) != 0 {
		t.Fatalf("an unsampled trace's span was exported: %s", rec.Dump())
	}
}

// Inject writes the current span's context into NATS headers and Extract
// reads it back; with tracing off, a traceparent is passed on untouched.
func TestTraceContextTravelsInNATSHeaders(t *testing.T) {
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h := nats.Header{}
	h.Set(events.HeaderTraceParent, incoming)
	tracing.Inject(trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}), h)
	if h.Get(events.HeaderTraceParent) != incoming {
		t.Fatalf("tracing off changed the traceparent: %q", h.Get(events.HeaderTraceParent))
	}
	if got := tracing.TraceID(incoming); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("TraceID = %q", got)
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", strings.Repeat("0", 4096),
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01<script>"} {
		if got := tracing.TraceID(bad); got != "" {
			t.Fatalf("TraceID(%.40q) = %q, want none", bad, got)
		}
	}

	tracingtest.Install(t, tracingtest.All())
	ctx, span := tracing.Start(tracing.Extract(context.Background(), h), "test", "publish")
	out := nats.Header{}
	tracing.Inject(ctx, out)
	span.End()
	got := tracing.Extract(context.Background(), out)
	sc := trace.SpanContextFromContext(got)
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID() != span.SpanContext().SpanID() || !sc.IsRemote() {
		t.Fatalf("extracted %v from %v", sc, out)
	}
	if tp := tracing.TraceParent(ctx, "fallback"); !strings.Contains(tp, span.SpanContext().SpanID().String()) {
		t.Fatalf("TraceParent = %q", tp)
	}
}

// A line logged with a context that holds a span carries trace_id and
// span_id; one without carries neither.
func TestLogLinesCarryTheTraceAndSpanIDs(t *testing.T) {
	tracingtest.Install(t, tracingtest.All())
	var buf bytes.Buffer
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(&buf, nil))).With("service", "test")
	ctx, span := tracing.Start(context.Background(), "test", "work")
	log.InfoContext(ctx, "inside")
	span.End()
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if !strings.Contains(lines[0], `"trace_id":"`+span.SpanContext().TraceID().String()+`"`) ||
		!strings.Contains(lines[0], `"span_id":"`+span.SpanContext().SpanID().String()+`"`) {
		t.Fatalf("line with a span: %s", lines[0])
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Fatalf("line without a span: %s", lines[1])
	}
}

// Off by default: Setup installs nothing, and OTEL_SDK_DISABLED wins over
// tracing.enabled.
func TestSetupIsOffByDefaultAndHonoursOTELSDKDisabled(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	stop, err := tracing.Setup(context.Background(), tracing.DefaultConfig(), log)
	if err != nil || tracing.On() {
		t.Fatalf("default config: on=%v err=%v", tracing.On(), err)
	}
	_ = stop(context.Background())
	t.Setenv("OTEL_SDK_DISABLED", "true")
	c := tracing.DefaultConfig()
	c.Enabled = true
	stop, err = tracing.Setup(context.Background(), c, log)
	if err != nil || tracing.On() {
		t.Fatalf("OTEL_SDK_DISABLED=true: on=%v err=%v", tracing.On(), err)
	}
	_ = stop(context.Background())
}

// With nothing to keep (keep_errors false, keep_slow 0), an unsampled
// span is not even recorded.
func TestNothingToKeepRecordsNothingUnsampled(t *testing.T) {
	rec := tracingtest.Install(t, tracing.Config{SampleRatio: 0})
	_, span := tracing.Start(context.Background(), "test", "unsampled")
	if span.IsRecording() {
		t.Fatal("an unsampled span is recorded with nothing to keep")
	}
	tracing.End(span, events.Permanentf("failed"))
	if len(rec.Ended()) != 0 {
		t.Fatalf("exported: %s", rec.Dump())
	}
}
