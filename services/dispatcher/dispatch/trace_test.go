package dispatch

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/events/tracing/tracingtest"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/graph"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
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

// A graph enqueued within a span is one trace: the enqueue's publish,
// the jobs-graph consume span that submits it and publishes its roots,
// then each node's consume span (with its queueing time) and call. A
// node's job is published from the consume span of the parent that
// finished it last (or of the graph, for a root), so each node's consume
// span descends from its parents' work: from its only parent's, and for a
// fan-in from one of them. No payload, answer or credential reaches a span.
func TestAGraphsNodesAreOneTraceUnderTheirParents(t *testing.T) {
	const (
		payload = "attachment-payload-7731"
		answer  = "answer-value-5521"
		secret  = "Bearer graph-trace-s3cret"
	)
	rec := tracingtest.Install(t, tracingtest.All())
	b := newBus(t)
	svc := jsonFake(t, `{"text": "`+answer+`"}`)
	sc := svcConfig(svc.URL, 4)
	sc.Auth = config.NewSecret(secret)
	b.start(t, testConfig(map[string]channel.Config{"work": sc}))

	ctx, parent := tracing.Start(context.Background(), "test", "expense approved")
	g := parseGraph(t, `{"graph": {"name": "expense", "nodes": {
	  "a": {"service": "work", "task": "a", "payload": {"attachment": "`+payload+`"}},
	  "b": {"service": "work", "task": "b", "payload_from": ".parents.a.response"},
	  "c": {"service": "work", "task": "c", "payload_from": ".parents.a.response.text"},
	  "d": {"service": "work", "task": "d", "payload_from": "[.parents[].response]"}},
	  "edges": [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]]}}`)
	e, err := jobs.EnqueueGraph(ctx, b.js, g, jobs.GraphLimits{})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	b.waitGraph(t, e.ID, graph.StateDone)

	traceID := parent.SpanContext().TraceID()
	caller := rec.Wait(t, time.Second, 1, "expense approved")[0]
	var enqueue sdktrace.ReadOnlySpan
	for _, s := range rec.Find("publish jobs", attribute.String("messaging.destination.name", "jobs.graph.expense")) {
		if tracingtest.ParentOf(caller, s) {
			enqueue = s
		}
	}
	if enqueue == nil {
		t.Fatalf("no graph enqueue under the caller's span:\n%s", rec.Dump())
	}
	submit := rec.Wait(t, 10*time.Second, 1, "consume jobs-graph", attribute.String("pulsehub.event_id", e.ID))[0]
	if !tracingtest.ParentOf(enqueue, submit) {
		t.Fatalf("the graph's consume span is not the enqueue's child:\n%s", rec.Dump())
	}
	consumed := map[string]sdktrace.ReadOnlySpan{}
	for _, n := range []string{"a", "b", "c", "d"} {
		id := graph.JobID(e.ID, n)
		cons := rec.Wait(t, 10*time.Second, 1, "consume jobs-work", attribute.String("pulsehub.event_id", id))
		calls := rec.Wait(t, 10*time.Second, 1, "call work "+n, attribute.String("pulsehub.job_id", id))
		if len(cons) != 1 || len(calls) != 1 {
			t.Fatalf("node %s: %d consume spans, %d calls:\n%s", n, len(cons), len(calls), rec.Dump())
		}
		for _, s := range []sdktrace.ReadOnlySpan{cons[0], calls[0]} {
			if s.SpanContext().TraceID() != traceID {
				t.Fatalf("node %s: %s is in another trace:\n%s", n, s.Name(), rec.Dump())
			}
		}
		if !tracingtest.ParentOf(cons[0], calls[0]) {
			t.Fatalf("node %s: its call is not under its consume span:\n%s", n, rec.Dump())
		}
		if q, ok := tracingtest.Attr(cons[0], "pulsehub.queue_ms"); !ok || q.AsFloat64() < 0 {
			t.Fatalf("node %s: no queueing time: %v", n, cons[0].Attributes())
		}
		if !rec.Descends(submit, cons[0]) {
			t.Fatalf("node %s does not descend from the graph's consume span:\n%s", n, rec.Dump())
		}
		consumed[n] = cons[0]
	}
	for _, edge := range [][2]string{{"a", "b"}, {"a", "c"}} {
		if !rec.Descends(consumed[edge[0]], consumed[edge[1]]) {
			t.Fatalf("node %s does not descend from its parent %s:\n%s", edge[1], edge[0], rec.Dump())
		}
	}
	if !rec.Descends(consumed["b"], consumed["d"]) && !rec.Descends(consumed["c"], consumed["d"]) {
		t.Fatalf("the fan-in d descends from neither b nor c:\n%s", rec.Dump())
	}
	if rec.Descends(consumed["b"], consumed["c"]) || rec.Descends(consumed["c"], consumed["b"]) {
		t.Fatalf("siblings b and c are nested:\n%s", rec.Dump())
	}
	if leaks := rec.Leaks(payload, answer, secret, "graph-trace-s3cret"); len(leaks) > 0 {
		t.Fatalf("a payload, answer or secret reached a span: %v", leaks)
	}
}
