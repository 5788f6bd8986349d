package dispatch

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/cache"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
)

func TestRouteEventsThatCannotBecomeARequestAreDeadLettered(t *testing.T) {
	tests := []struct {
		name, contentType, body, reason string
	}{
		{"jq error", "application/json", `{"_id":"x","attachment_id":{"a":1}}`, "jq"},
		{"body not JSON", "application/json", `not json`, "body is not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBus(t)
			svc := newFake(t, ok)
			spec := expenseOCR()
			spec.Dispatch.Body = `{n: (.attachment_id + 1)}`
			b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}, spec))
			ev := events.New(context.Background(), "/odoo/main", "dev.pulsehub.odoo.event", []byte(tc.body))
			ev.ContentType = tc.contentType
			b.publishEvent(t, events.OdooEventSubject("hr.expense", "main"), ev)
			b.waitCount(t, events.StreamDLQ, "dlq.expense-ocr.>", 1)
			dl := b.read(t, events.StreamDLQ, "dlq.expense-ocr.>")[0]
			if svc.count() != 0 || dl.Header.Get(events.HeaderDLQKind) != "permanent" || !strings.Contains(dl.Header.Get(events.HeaderDLQReason), tc.reason) {
				t.Fatalf("calls %d, dead letter %v", svc.count(), dl.Header)
			}
		})
	}
}

func TestResultSubjectNoStreamStoresIsPermanentAndTheAnswerIsKept(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	// A result subject is always under results. (jobs.Job.Check): only a
	// RESULTS stream deleted by hand stores it nowhere.
	if err := b.js.DeleteStream(context.Background(), events.StreamResults); err != nil {
		t.Fatal(err)
	}
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`), ResultSubject: "results.ocr.mine"})
	rec := b.waitState(t, e.ID, jobstate.Dead)
	if !strings.Contains(rec.LastError, "no stream stores results.ocr.mine") || svc.count() != 1 {
		t.Fatalf("calls %d, record %+v", svc.count(), rec)
	}
	// The answer was paid for: it is in the cache for a requeue once the subject is fixed.
	c, err := cache.Open(context.Background(), b.js, stream.DefaultConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, hit, err := c.Get(context.Background(), events.StableID("jobs-ocr", e.ID)); !hit || err != nil {
		t.Fatalf("cached: %v %v", hit, err)
	}
}

func TestJobsWaitWhileTheirBucketsAreGone(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	d := b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	ctx := context.Background()
	if err := b.js.DeleteKeyValue(ctx, events.BucketJobs); err != nil {
		t.Fatal(err)
	}
	if err := b.js.DeleteKeyValue(ctx, events.BucketResults); err != nil {
		t.Fatal(err)
	}
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`)})
	natstest.WaitFor(t, wait, "a failed look-up of the job's record", func() bool {
		return counterValue(t, d.reg, "pulsehub_route_processed_total", nil) == 0 && b.lookedUp(t, "jobs-ocr")
	})
	if svc.count() != 0 {
		t.Fatal("called a job whose attempts could not be read")
	}
	if _, err := jobstate.Open(ctx, b.js, stream.DefaultConfig(), time.Hour); err != nil {
		t.Fatal(err)
	}
	// The record is readable again but the cache is not: the call waits for it too.
	natstest.WaitFor(t, wait, "a failed cache look-up", func() bool {
		return counterValue(t, d.reg, "pulsehub_route_failed_total", map[string]string{"route": "jobs-ocr"}) > 0
	})
	if svc.count() != 0 {
		t.Fatal("called without checking the result cache")
	}
	if _, err := cache.Open(ctx, b.js, stream.DefaultConfig(), 0); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, e.ID, jobstate.Done)
	if svc.count() != 1 {
		t.Fatalf("calls %d", svc.count())
	}
}
