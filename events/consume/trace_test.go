package consume

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/events/tracing/tracingtest"
	"go.opentelemetry.io/otel/codes"
)

// A message that arrives with a traceparent and is dead-lettered: with
// tracing on, its consume span is a child of the sender's span and says
// dead-lettered, the DLQ publish is the consume span's child, and the log
// line carries the trace_id; on or off, the dead letter keeps the trace,
// which stream.Routes reports for the health page. No span holds the
// error's text.
func TestADeadLetterKeepsItsEventsTrace(t *testing.T) {
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
		secret  = "payload value 7731"
	)
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "tracing off", true: "tracing on"}[on], func(t *testing.T) {
			var rec *tracingtest.Recorder
			if on {
				rec = tracingtest.Install(t, tracingtest.All())
			}
			f := setup(t, 5*time.Second)
			e := events.New(context.Background(), "test", "com.github.issues.opened", []byte(`{"n":1}`))
			e.TraceParent = "00-" + traceID + "-" + parent + "-01"
			if _, err := f.js.PublishMsg(context.Background(), e.Msg("github.issues.opened")); err != nil {
				t.Fatal(err)
			}
			f.run(t, func(ctx context.Context, m *Msg) error { return events.Permanentf("refused: %s", secret) }, fast(), nil)
			f.waitSettled(t)
			natstest.WaitFor(t, 5*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
			if got := tracing.TraceID(f.dlq(t)[0].Header.Get(events.HeaderTraceParent)); got != traceID {
				t.Fatalf("the dead letter's trace is %q", got)
			}
			routes, err := stream.Routes(context.Background(), f.js)
			if err != nil || len(routes) != 1 || routes[0].LastDeadLetterTraceID != traceID {
				t.Fatalf("routes = %+v, %v", routes, err)
			}
			if !strings.Contains(f.logs.String(), `"trace_id":"`+traceID+`"`) {
				t.Fatalf("the route's log lines carry no trace_id:\n%s", f.logs.String())
			}
			if !on {
				return
			}
			cons := rec.Wait(t, 5*time.Second, 1, "consume "+route)[0]
			if cons.SpanContext().TraceID().String() != traceID || cons.Parent().SpanID().String() != parent ||
				cons.Status().Code != codes.Error || cons.Status().Description != "dead-lettered" {
				t.Fatalf("consume span: trace %s parent %s status %v", cons.SpanContext().TraceID(), cons.Parent().SpanID(), cons.Status())
			}
			dl := rec.Wait(t, 5*time.Second, 1, "publish dlq")[0]
			if !tracingtest.ParentOf(cons, dl) {
				t.Fatalf("the DLQ publish is not the consume span's child:\n%s", rec.Dump())
			}
			if leaks := rec.Leaks(secret); len(leaks) > 0 {
				t.Fatalf("the error's text reached a span: %v", leaks)
			}
		})
	}
}
