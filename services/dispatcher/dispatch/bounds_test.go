package dispatch

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go"
)

// outside is a result_subject that would make the dispatcher delete an
// Odoo partner through the writer's odoo-cmd route.
const outside = "odoo.cmd.res_partner.unlink"

// A job may name its result_subject, but only under results.: refused by
// Enqueue, and dead-lettered without a call (and without a publish there)
// when it reaches the dispatcher another way.
func TestAJobCannotPublishItsResultOutsideResults(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	c, err := jobs.NewClient(context.Background(), b.js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enqueue(context.Background(), "ocr", "extract", jobs.Job{ResultSubject: outside}); err == nil || !strings.Contains(err.Error(), "results.") {
		t.Fatalf("enqueue with result_subject %s: %v", outside, err)
	}
	if b.count(t, events.StreamJobs, "jobs.>") != 0 {
		t.Fatal("a refused job was published")
	}
	body := []byte(`{"payload":{},"result_subject":"` + outside + `"}`)
	if _, err := jobs.Parse(body); !events.IsPermanent(err) {
		t.Fatalf("Parse: %v", err)
	}
	// Published with `nats pub`: the schema refuses it when the dispatcher
	// parses it.
	raw := events.New(context.Background(), "/test", jobs.Type, body)
	b.publishEvent(t, "jobs.ocr.extract", raw)
	// A record says it was validated (as Enqueue's would), so the
	// dispatcher only decodes it: the check before the call still holds.
	vouched := events.New(context.Background(), "/test", jobs.Type, body)
	ack, err := b.js.PublishMsg(context.Background(), vouched.Msg("jobs.ocr.extract"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := jobstate.Open(context.Background(), b.js, stream.DefaultConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(context.Background(), jobstate.Record{ID: vouched.ID, Service: "ocr", Task: "extract",
		State: jobstate.Pending, RequestSubject: "jobs.ocr.extract", RequestSeq: ack.Sequence}); err != nil {
		t.Fatal(err)
	}
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))

	for _, ev := range []events.Event{raw, vouched} {
		b.waitState(t, ev.ID, jobstate.Dead)
	}
	b.waitCount(t, events.StreamDLQ, "dlq.jobs-ocr.>", 2)
	for _, dl := range b.read(t, events.StreamDLQ, "dlq.jobs-ocr.>") {
		if dl.Header.Get(events.HeaderDLQKind) != "permanent" || !strings.Contains(dl.Header.Get(events.HeaderDLQReason), "result_subject") {
			t.Fatalf("dead letter: %v", dl.Header)
		}
	}
	if svc.count() != 0 || b.count(t, events.StreamOdooCmd, "odoo.cmd.>") != 0 {
		t.Fatalf("%d calls, %d Odoo commands", svc.count(), b.count(t, events.StreamOdooCmd, "odoo.cmd.>"))
	}
	// A job with its own result subject under results. goes on.
	e := b.enqueue(t, "ocr", "extract", jobs.Job{ResultSubject: "results.ocr.mine"})
	if rec := b.waitState(t, e.ID, jobstate.Done); rec.ResultSubject != "results.ocr.mine" || b.count(t, events.StreamResults, "results.ocr.mine") != 1 {
		t.Fatalf("record %+v", rec)
	}
}

// A job published by hand may carry a ce-id, or a subject, far longer than
// the hub would make: used as a KV key or in the result's subject it would
// make the server close the dispatcher's connection. It is dead-lettered at
// once, and the next job runs.
func TestAJobWithAnOverLongIDOrSubjectIsDeadLetteredAndTheNextRuns(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))

	longID := events.New(context.Background(), "/test", jobs.Type, []byte(`{"payload":{"n":1}}`))
	longID.ID = strings.Repeat("i", 4000)
	b.publishEvent(t, "jobs.ocr.extract", longID)
	longSubject := "jobs.ocr." + strings.Repeat("t", 2*events.MaxSubjectLen)
	m := nats.NewMsg(longSubject)
	m.Data = []byte(`{"payload":{"n":2}}`)
	if _, err := b.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	b.waitCount(t, events.StreamDLQ, "dlq.jobs-ocr.>", 2)
	reasons := ""
	for _, dl := range b.read(t, events.StreamDLQ, "dlq.jobs-ocr.>") {
		if len(dl.Subject) > events.MaxSubjectLen || dl.Header.Get(events.HeaderDLQKind) != "permanent" {
			t.Fatalf("dead letter on %d bytes: %v", len(dl.Subject), dl.Header)
		}
		reasons += dl.Header.Get(events.HeaderDLQReason) + "\n"
	}
	if !strings.Contains(reasons, "job id (ce-id)") || !strings.Contains(reasons, "the most is 1024") {
		t.Fatalf("reasons:\n%s", reasons)
	}
	if _, err := jobs.Get(context.Background(), b.js, longID.ID); !errors.Is(err, jobstate.ErrNotFound) {
		t.Fatalf("record of the long id: %v", err)
	}
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: []byte(`{"n":3}`)})
	b.waitState(t, e.ID, jobstate.Done)
	if svc.count() != 1 || string(svc.call(0).Body) != `{"n":3}` {
		t.Fatalf("%d calls", svc.count())
	}
}
