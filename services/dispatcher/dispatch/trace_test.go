package dispatch

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/events/tracing/tracingtest"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"go.opentelemetry.io/otel/attribute"
)

// A job enqueued within a span is one trace: the enqueue's publish, then
// per attempt a consume span of the job loop (with how long the job
// waited in JOBS) and its call, the failed one marked, and the result's
// publish under the call that answered.
func TestAJobsAttemptsAreOneTraceWithTheirQueueingTime(t *testing.T) {
	rec := tracingtest.Install(t, tracingtest.All())
	b := newBus(t)
	svc := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			reply(w, http.StatusServiceUnavailable, `{"error":"warming up"}`)
			return
		}
		reply(w, 200, `{"total":42.5}`)
	})
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	c, err := jobs.NewClient(context.Background(), b.js)
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := tracing.Start(context.Background(), "test", "expense approved")
	e, err := c.Enqueue(ctx, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"attachment_id":311}`)})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	b.waitState(t, e.ID, jobstate.Done)

	traceID := parent.SpanContext().TraceID()
	job := attribute.String("pulsehub.route", "jobs-ocr")
	attempts := rec.Wait(t, 10*time.Second, 2, "consume jobs-ocr", job)
	calls := rec.Wait(t, 10*time.Second, 2, "call ocr extract", attribute.String("pulsehub.job_id", e.ID))
	result := rec.Wait(t, 10*time.Second, 1, "publish results")[0]
	var enqueue bool
	for _, s := range rec.Find("publish jobs") {
		if tracingtest.ParentOf(rec.Find("expense approved")[0], s) {
			enqueue = true
			for _, a := range attempts {
				if !tracingtest.ParentOf(s, a) {
					t.Fatalf("an attempt is not the enqueue's child:\n%s", rec.Dump())
				}
				if _, ok := tracingtest.Attr(a, "pulsehub.queue_ms"); !ok {
					t.Fatalf("an attempt without its queueing time: %v", a.Attributes())
				}
			}
		}
	}
	if !enqueue {
		t.Fatalf("no enqueue publish under the caller's span:\n%s", rec.Dump())
	}
	for _, s := range append(append(attempts, calls...), result) {
		if s.SpanContext().TraceID() != traceID {
			t.Fatalf("%s is in another trace:\n%s", s.Name(), rec.Dump())
		}
	}
	answered := 0
	for _, call := range calls {
		v, _ := tracingtest.Attr(call, "http.response.status_code")
		if v.AsInt64() == 200 {
			answered++
			if !tracingtest.ParentOf(call, result) {
				t.Fatalf("the result's publish is not under the call that answered:\n%s", rec.Dump())
			}
		}
	}
	if answered != 1 {
		t.Fatalf("%d calls answered 200:\n%s", answered, rec.Dump())
	}
}
