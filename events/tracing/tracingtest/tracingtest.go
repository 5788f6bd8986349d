// Package tracingtest records the hub's spans in-process for tests: it
// installs a provider with the hub's own sampler and keep processor
// (tracing.NewProvider) in front of the SDK's tracetest.SpanRecorder,
// and finds spans and checks their attributes.
package tracingtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/tracing"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Recorder holds the spans ended while it is installed.
type Recorder struct {
	*tracetest.SpanRecorder
}

// Install turns tracing on for the rest of t with c's sampler (its
// Enabled and Endpoint are not used), recording into the returned
// Recorder; t's cleanup turns it off. Tracing is per process: a test that
// installs one must not run in parallel with another that traces.
func Install(t testing.TB, c tracing.Config) *Recorder {
	t.Helper()
	r := &Recorder{tracetest.NewSpanRecorder()}
	tp, err := tracing.NewProvider(context.Background(), c, r.SpanRecorder)
	if err != nil {
		t.Fatal(err)
	}
	restore := tracing.Install(tp)
	t.Cleanup(func() {
		restore()
		_ = tp.Shutdown(context.Background())
	})
	return r
}

// All is tracing on with every trace sampled.
func All() tracing.Config {
	c := tracing.DefaultConfig()
	c.Enabled, c.SampleRatio = true, 1
	return c
}

// Find returns the ended spans whose name is name and that have every
// attribute in with (nil: any).
func (r *Recorder) Find(name string, with ...attribute.KeyValue) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Ended() {
		if s.Name() == name && Has(s, with...) {
			out = append(out, s)
		}
	}
	return out
}

// Wait waits up to d until Find(name, with...) returns at least n spans,
// and returns them; it fails t if they do not come.
func (r *Recorder) Wait(t testing.TB, d time.Duration, n int, name string, with ...attribute.KeyValue) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if got := r.Find(name, with...); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %d spans %q %v; have:\n%s", d, n, name, with, r.Dump())
		}
		time.Sleep(10 * time.Millisecond) // polling for spans that other goroutines end
	}
}

// Has reports whether s has every attribute in with.
func Has(s sdktrace.ReadOnlySpan, with ...attribute.KeyValue) bool {
	for _, w := range with {
		if v, ok := Attr(s, w.Key); !ok || v != w.Value {
			return false
		}
	}
	return true
}

// Attr is s's attribute k.
func Attr(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, a := range s.Attributes() {
		if a.Key == k {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

// ParentOf reports whether parent is child's parent (same trace, and
// child's parent span id is parent's span id).
func ParentOf(parent, child sdktrace.ReadOnlySpan) bool {
	return child.Parent().TraceID() == parent.SpanContext().TraceID() && child.Parent().SpanID() == parent.SpanContext().SpanID()
}

// Descends reports whether ancestor is child's parent, or its parent's,
// and so on up the ended spans recorded (same trace throughout).
func (r *Recorder) Descends(ancestor, child sdktrace.ReadOnlySpan) bool {
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range r.Ended() {
		byID[s.SpanContext().SpanID()] = s
	}
	for s, hops := child, 0; s != nil && hops <= len(byID); hops++ {
		if ParentOf(ancestor, s) {
			return true
		}
		if s.Parent().TraceID() != ancestor.SpanContext().TraceID() {
			return false
		}
		s = byID[s.Parent().SpanID()]
	}
	return false
}

// Dump lists the ended spans, one a line, for a failure message.
func (r *Recorder) Dump() string {
	var b strings.Builder
	for _, s := range r.Ended() {
		fmt.Fprintf(&b, "  %s trace=%s span=%s parent=%s %v\n", s.Name(), s.SpanContext().TraceID(), s.SpanContext().SpanID(), s.Parent().SpanID(), s.Attributes())
	}
	return b.String()
}

// Leaks returns every place in the ended spans — names, attribute
// values, status descriptions, events and links — where one of the
// needles appears: a secret or a value of a payload that must never
// reach a collector.
func (r *Recorder) Leaks(needles ...string) []string {
	var out []string
	check := func(where, text string) {
		for _, n := range needles {
			if n != "" && strings.Contains(text, n) {
				out = append(out, fmt.Sprintf("%s holds %q", where, n))
			}
		}
	}
	attrs := func(where string, as []attribute.KeyValue) {
		for _, a := range as {
			check(where+" attribute "+string(a.Key), a.Value.Emit())
		}
	}
	for _, s := range r.Ended() {
		where := "span " + s.Name()
		check(where+" name", s.Name())
		check(where+" status", s.Status().Description)
		attrs(where, s.Attributes())
		for _, e := range s.Events() {
			check(where+" event", e.Name)
			attrs(where+" event "+e.Name, e.Attributes)
		}
		for _, l := range s.Links() {
			attrs(where+" link", l.Attributes)
		}
		attrs(where+" resource", s.Resource().Attributes())
	}
	return out
}
