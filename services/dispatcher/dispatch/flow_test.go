package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
)

func TestCapacityIsNeverExceededWhileAnotherServiceKeepsFlowing(t *testing.T) {
	b := newBus(t)
	slow, release := newHeldFake(t, `{}`)
	fast := newFake(t, ok)
	b.start(t, testConfig(map[string]channel.Config{"slow": svcConfig(slow.URL, 2), "fast": svcConfig(fast.URL, 8)}))
	var slowIDs, fastIDs []string
	for i := range 12 {
		slowIDs = append(slowIDs, b.enqueue(t, "slow", "ocr", jobs.Job{Payload: json.RawMessage(fmt.Sprint(i))}).ID)
	}
	natstest.WaitFor(t, wait, "the slow service to be saturated", func() bool { return slow.inFlight.Load() == 2 })
	for i := range 60 {
		fastIDs = append(fastIDs, b.enqueue(t, "fast", "echo", jobs.Job{Payload: json.RawMessage(fmt.Sprint(i))}).ID)
	}
	for _, id := range fastIDs {
		b.waitState(t, id, jobstate.Done)
	}
	if n := slow.count(); n != 2 {
		t.Fatalf("the slow service got %d calls while saturated at capacity 2", n)
	}
	close(release)
	for _, id := range slowIDs {
		b.waitState(t, id, jobstate.Done)
	}
	if m := slow.maxSeen.Load(); m != 2 {
		t.Fatalf("slow service saw %d calls at once, capacity 2", m)
	}
	if m := fast.maxSeen.Load(); m > 8 {
		t.Fatalf("fast service saw %d calls at once, capacity 8", m)
	}
	// Waiting for a slot cost the slow jobs no attempts.
	for _, id := range slowIDs {
		if r := b.job(t, id); r.Attempts != 1 {
			t.Fatalf("job %s: %d attempts", id, r.Attempts)
		}
	}
}

func TestBreakerOpensOnADeadServiceStopsCallingItAndClosesAfterRecovery(t *testing.T) {
	b := newBus(t)
	var healthy atomic.Bool
	var d *running
	var calledWhileOpen atomic.Int64
	svc := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if d != nil && d.channels["ocr"].State() == wire.BreakerOpen {
			calledWhileOpen.Add(1)
		}
		if !healthy.Load() {
			reply(w, http.StatusBadGateway, `{"error":"down"}`)
			return
		}
		reply(w, 200, `{}`)
	})
	sc := svcConfig(svc.URL, 1) // one call at a time: the breaker sees each outcome before the next call
	sc.Retry.MaxAttempts = 100
	sc.Breaker = channel.BreakerConfig{ConsecutiveFailures: 3, CoolDown: 500 * time.Millisecond}
	d = b.start(t, testConfig(map[string]channel.Config{"ocr": sc}))
	var ids []string
	for i := range 5 {
		ids = append(ids, b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(fmt.Sprint(i))}).ID)
	}
	natstest.WaitFor(t, wait, "the breaker to open", func() bool { return d.channels["ocr"].State() == wire.BreakerOpen })
	if n := svc.count(); n < 3 {
		t.Fatalf("opened after %d calls", n)
	}
	if g := counterValue(t, d.reg, "pulsehub_dispatcher_breaker_state", map[string]string{"service": "ocr"}); g != 2 {
		t.Fatalf("breaker gauge = %v, want 2 (open)", g)
	}
	// It lets a probe through after each cool-down; while dead the probe reopens it.
	opened := svc.count()
	natstest.WaitFor(t, wait, "a half-open probe", func() bool { return svc.count() > opened })
	healthy.Store(true)
	for _, id := range ids {
		b.waitState(t, id, jobstate.Done)
	}
	if s := d.channels["ocr"].State(); s != wire.BreakerClosed {
		t.Fatalf("breaker %s after recovery", s)
	}
	if n := calledWhileOpen.Load(); n != 0 {
		t.Fatalf("the service was called %d times while the breaker was open", n)
	}
	// While open, its loop pulled nothing rather than pull messages to hand them back.
	if n := counterValue(t, d.reg, "pulsehub_dispatcher_paused_seconds_total", map[string]string{"service": "ocr"}); n == 0 {
		t.Fatal("the job loop never paused for the open breaker")
	}
	// Breaker waits are no attempts: 5 jobs, at most 3 failures before it opened plus the failed probes.
	for _, id := range ids {
		if r := b.job(t, id); r.State != jobstate.Done || r.Attempts > svc.count() {
			t.Fatalf("job %+v", r)
		}
	}
}

func TestStoppedMidCallCallsAgainWithTheSameKeyAndIsDoneOnce(t *testing.T) {
	b := newBus(t)
	var block atomic.Bool
	block.Store(true)
	entered := make(chan struct{}, 1)
	svc := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if block.Load() {
			entered <- struct{}{}
			<-r.Context().Done() // until the dispatcher gives up on it
			return
		}
		reply(w, 200, `{"ok":1}`)
	})
	cfg := testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)})
	first := b.start(t, cfg)
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`)})
	<-entered
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	if r := b.job(t, e.ID); r.State != jobstate.Pending || r.Attempts != 1 {
		t.Fatalf("record after the stop = %+v", r)
	}
	block.Store(false)
	b.start(t, cfg)
	rec := b.waitState(t, e.ID, jobstate.Done)
	if svc.count() != 2 {
		t.Fatalf("calls = %d", svc.count())
	}
	k1, k2 := svc.call(0).Header.Get("Idempotency-Key"), svc.call(1).Header.Get("Idempotency-Key")
	if k1 == "" || k1 != k2 {
		t.Fatalf("Idempotency-Key %q then %q", k1, k2)
	}
	if n := b.count(t, events.StreamResults, "results.ocr.>"); n != 1 {
		t.Fatalf("%d results", n)
	}
	if rec.Attempts != 2 {
		t.Fatalf("record %+v", rec)
	}
}

// expenseOCR is the example route of the dispatcher's README: an Odoo
// expense event → the OCR service's extract task.
func expenseOCR() route.Spec {
	return route.Spec{Name: "expense-ocr", From: route.From{Stream: events.StreamOdoo, Subjects: []string{"odoo.event.hr_expense.*"}},
		Dispatch: &route.DispatchTarget{Service: "ocr", Task: "extract", Path: "/extract", Body: `{attachment_id: .attachment_id, expense_id: ._id}`},
		Retry:    route.Retry{InitialInterval: 10 * time.Millisecond}}
}

func odooExpenseEvent() events.Event {
	ev := events.New(context.Background(), "/odoo/main", "dev.pulsehub.odoo.event",
		[]byte(`{"_id":42,"_model":"hr.expense","_action":"create","attachment_id":311,"name":"Lunch"}`))
	ev.Subject = "hr.expense/42"
	ev.CorrelationID = "5b0f4a3c-9e21-5d7a-8c44-0f6b2a1e9d37"
	ev.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	return ev
}

func TestOCRFlowFromAnOdooEventToAResultAWriterRouteCanUse(t *testing.T) {
	b := newBus(t)
	published := b.watch(t, "results.ocr.extract")
	svc := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, 200, `{"total":42.5,"currency":"EUR","vendor":"Cafe Central"}`)
	})
	sc := svcConfig(svc.URL, 2)
	sc.Auth = config.NewSecret("Bearer s3cret")
	d := b.start(t, testConfig(map[string]channel.Config{"ocr": sc}, expenseOCR()))
	ev := odooExpenseEvent()
	b.publishEvent(t, events.OdooEventSubject("hr.expense", "main"), ev)

	res := published.wait(t, 1)[0]
	c := svc.call(0)
	want := map[string]string{"Idempotency-Key": events.StableID("expense-ocr", ev.ID), "X-Correlation-Id": ev.CorrelationID,
		"Traceparent": ev.TraceParent, "Authorization": "Bearer s3cret", "Content-Type": "application/json"}
	for k, v := range want {
		if got := c.Header.Get(k); got != v {
			t.Errorf("call header %s = %q, want %q", k, got, v)
		}
	}
	if string(c.Body) != `{"attachment_id":311,"expense_id":42}` {
		t.Errorf("call body %s", c.Body)
	}
	if err := schemas.Validate("result", res.Data); err != nil {
		t.Fatal(err)
	}
	if res.Header.Get(events.HeaderCausationID) != ev.ID || res.Header.Get(events.HeaderCorrelationID) != ev.CorrelationID ||
		res.Header.Get(events.HeaderTraceParent) != ev.TraceParent || res.Header.Get(events.HeaderSubject) != "hr.expense/42" ||
		res.Header.Get(events.HeaderMsgID) != "result:"+want["Idempotency-Key"] {
		t.Fatalf("result headers %v", res.Header)
	}
	// What a writer route would evaluate on the result.
	writer := route.OdooTarget{Model: "hr.expense", Op: route.OpWrite, ID: ".request.expense_id",
		Values: map[string]string{"total_amount": ".response.total"}}
	if ps := writer.Validate("routes[1].odoo"); len(ps) > 0 {
		t.Fatal(ps)
	}
	body, err := route.DecodeBody(res.Header.Get(events.HeaderContentType), res.Data)
	if err != nil {
		t.Fatal(err)
	}
	in := route.Input{Body: body, Subject: res.Subject, Event: events.FromMsg(res.Header, res.Data)}
	id, _ := route.MustCompile(writer.ID).Eval(context.Background(), in)
	total, _ := route.MustCompile(writer.Values["total_amount"]).Eval(context.Background(), in)
	if id != 42 || total != 42.5 {
		t.Fatalf("writer sees id %v, total %v", id, total)
	}

	t.Run("a replay is answered from the cache", func(t *testing.T) {
		old := consume.ReplayPoll
		consume.ReplayPoll = 50 * time.Millisecond
		t.Cleanup(func() { consume.ReplayPoll = old })
		// What `hub replay` does: a replay consumer next to the route's own.
		ctx := context.Background()
		_, err := b.js.CreateConsumer(ctx, events.StreamOdoo, jetstream.ConsumerConfig{Durable: stream.ReplayName("expense-ocr"),
			AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "odoo.event.hr_expense.*", DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			t.Fatal(err)
		}
		again := published.wait(t, 2)[1]
		r := decodeResult(t, again.Data)
		if !r.Cached || r.RequestID != ev.ID || string(r.Response) != `{"currency":"EUR","total":42.5,"vendor":"Cafe Central"}` &&
			string(r.Response) != `{"total":42.5,"currency":"EUR","vendor":"Cafe Central"}` {
			t.Fatalf("replayed result %+v", r)
		}
		if svc.count() != 1 {
			t.Fatalf("the replay called the service: %d calls", svc.count())
		}
		if hits := counterValue(t, d.reg, "pulsehub_dispatcher_cache_lookups_total", map[string]string{"service": "ocr", "result": "hit"}); hits != 1 {
			t.Fatalf("cache hits %v", hits)
		}
	})
}

func TestAnswerThatIsNotJSONWhereJSONIsExpectedIsPermanent(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 200, `<html>oops</html>`) })
	spec := expenseOCR()
	spec.Dispatch.Response = "json"
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}, spec))
	b.publishEvent(t, events.OdooEventSubject("hr.expense", "main"), odooExpenseEvent())

	b.waitCount(t, events.StreamDLQ, "dlq.expense-ocr.>", 1)
	dl := b.read(t, events.StreamDLQ, "dlq.expense-ocr.>")[0]
	if svc.count() != 1 || dl.Header.Get(events.HeaderDLQKind) != "permanent" ||
		!containsAll(dl.Header.Get(events.HeaderDLQReason), "not valid JSON", "200", "<html>oops</html>") {
		t.Fatalf("calls %d, dead letter %v", svc.count(), dl.Header)
	}
}

func TestRouteFilterSkipsAndTextAnswersAreKept(t *testing.T) {
	b := newBus(t)
	published := b.watch(t, "results.ocr.>")
	svc := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("plain words"))
	})
	spec := expenseOCR()
	spec.Filter = `._action == "create"`
	spec.Dispatch.Body, spec.Dispatch.Task = "", ""
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}, spec))
	skipped := events.New(context.Background(), "/odoo/main", "dev.pulsehub.odoo.event", []byte(`{"_id":1,"_action":"write"}`))
	b.publishEvent(t, events.OdooEventSubject("hr.expense", "main"), skipped)
	b.publishEvent(t, events.OdooEventSubject("hr.expense", "main"), odooExpenseEvent())

	r := decodeResult(t, published.wait(t, 1)[0].Data)
	if svc.count() != 1 || string(r.Response) != `"plain words"` || r.Task != "expense-ocr" ||
		string(r.Request) != string(odooExpenseEvent().Data) {
		t.Fatalf("calls %d, result %+v", svc.count(), r)
	}
}
