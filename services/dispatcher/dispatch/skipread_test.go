package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/graph"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
)

// Tests of the skipped record read (loadRun, jobConsumer.trustsMark):
// each hazard the read guarded against, with a marked job.

// pastSkew waits until a message stored now is younger than the
// consumers just created by more than consumerClockSkew, so that its mark
// can be trusted.
func pastSkew() { time.Sleep(2*consumerClockSkew + 5*time.Millisecond) }

// reads is how many deliveries of service's jobs read their record, and
// how many took it from the mark.
func (r *running) reads(t *testing.T, service string) (read, skipped float64) {
	t.Helper()
	return counterValue(t, r.reg, "pulsehub_dispatcher_job_records_total", map[string]string{"service": service, "read": "read"}),
		counterValue(t, r.reg, "pulsehub_dispatcher_job_records_total", map[string]string{"service": service, "read": "skipped"})
}

// jobMsg reads a message of JOBS.
func (b *bus) jobMsg(t *testing.T, seq uint64) (*jetstream.RawStreamMsg, error) {
	t.Helper()
	s, err := b.js.Stream(context.Background(), events.StreamJobs)
	if err != nil {
		t.Fatal(err)
	}
	return s.GetMsg(context.Background(), seq)
}

// settled waits until consumer has acknowledged everything up to seq.
func (b *bus) settled(t *testing.T, consumer string, seq uint64) {
	t.Helper()
	natstest.WaitFor(t, wait, consumer+" to acknowledge everything", func() bool {
		c, err := b.js.Consumer(context.Background(), events.StreamJobs, consumer)
		if err != nil {
			return false
		}
		i, err := c.Info(context.Background())
		return err == nil && i.AckFloor.Stream >= seq && i.NumAckPending == 0 && i.NumPending == 0
	})
}

func TestAMarkedFirstDeliveryRecordsWhatTheReadWouldHave(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	d := b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	pastSkew()
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"n":1}`), Description: "OCR of expense 42", IdentityKey: "ocr:42",
		MaxRetries: intp(3)})
	msg, err := b.jobMsg(t, e.Seq)
	if err != nil || msg.Header.Get(jobstate.HeaderEnqueued) == "" {
		t.Fatalf("Enqueue's message: %v %v", msg, err)
	}
	rec := b.waitState(t, e.ID, jobstate.Done)
	if read, skipped := d.reads(t, "ocr"); read != 0 || skipped != 1 {
		t.Fatalf("records read %v, taken from the mark %v", read, skipped)
	}
	created := events.FromMsg(msg.Header, msg.Data).Time
	// `hub jobs show`: what Enqueue recorded, then the delivery's own.
	if rec.ID != e.ID || rec.Service != "ocr" || rec.Task != "extract" || rec.Description != "OCR of expense 42" || rec.IdentityKey != "ocr:42" ||
		!rec.CreatedAt.Equal(created) || rec.Attempts != 1 || rec.MaxAttempts != 4 || rec.RequestSubject != "jobs.ocr.extract" ||
		rec.RequestSeq != e.Seq || rec.ResultSeq == 0 || rec.DoneAt.IsZero() || rec.Graph != "" {
		t.Fatalf("record %+v (created %s)", rec, created)
	}
	if err := schemas.ValidateValue("job-state", rec); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, d.reg, "pulsehub_dispatcher_cache_lookups_total", map[string]string{"service": "ocr", "result": "skipped"}); got != 1 {
		t.Fatalf("cache lookups skipped = %v: a first delivery cannot have an answer cached", got)
	}
	if svc.count() != 1 {
		t.Fatalf("%d calls", svc.count())
	}

	// The same job delivered with its record read ends with the same record.
	old := consumerClockSkew
	consumerClockSkew = time.Hour // no message is that much younger than its consumer: every record is read
	t.Cleanup(func() { consumerClockSkew = old })
	e2 := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"n":1}`), Description: "OCR of expense 42", IdentityKey: "ocr:43",
		MaxRetries: intp(3)})
	read := b.waitState(t, e2.ID, jobstate.Done)
	if r, _ := d.reads(t, "ocr"); r != 1 {
		t.Fatalf("records read %v", r)
	}
	norm := func(r jobstate.Record) jobstate.Record {
		r.ID, r.IdentityKey, r.RequestSeq, r.ResultSeq = "", "", 0, 0
		r.CreatedAt, r.UpdatedAt, r.StartedAt, r.DoneAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		return r
	}
	if norm(read) != norm(rec) || read.StartedAt.IsZero() != rec.StartedAt.IsZero() {
		t.Fatalf("read path %+v\nskipped read %+v", read, rec)
	}
}

// Hazard (a): jobs.Cancel rewrites a pending job's record and leaves its
// message in JOBS; a delivery that trusted the mark would call the
// service. Cancel withdraws the marked message, keeping a parked copy for
// Requeue.
func TestACancelledMarkedJobIsNeverCalledAndCanBeRequeued(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	var e jobs.Enqueued
	var cancelled jobstate.Record
	d := b.startWith(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}), func() {
		pastSkew()
		e = b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"n":7}`), Description: "to cancel"})
		var err error
		if cancelled, err = jobs.Cancel(context.Background(), b.js, e.ID); err != nil {
			t.Fatal(err)
		}
	})
	b.settled(t, jobs.ConsumerName("ocr"), cancelled.RequestSeq)
	if svc.count() != 0 {
		t.Fatalf("a cancelled job was called %d times", svc.count())
	}
	if cancelled.State != jobstate.Cancelled || cancelled.RequestSeq == e.Seq || cancelled.RequestSeq == 0 {
		t.Fatalf("cancelled record %+v (message %d)", cancelled, e.Seq)
	}
	if _, err := b.jobMsg(t, e.Seq); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("the cancelled job's message is still in JOBS: %v", err)
	}
	parked, err := b.jobMsg(t, cancelled.RequestSeq)
	if err != nil || parked.Header.Get(events.HeaderRequeuedFor) != jobstate.ParkedFor || parked.Header.Get(jobstate.HeaderEnqueued) != "" ||
		string(parked.Data) != `{"payload":{"n":7},"description":"to cancel"}` || events.FromMsg(parked.Header, parked.Data).ID != e.ID {
		t.Fatalf("parked copy %+v: %v", parked, err)
	}
	if r := b.job(t, e.ID); r.State != jobstate.Cancelled || r.Attempts != 0 || r.RequestSeq != cancelled.RequestSeq {
		t.Fatalf("record %+v", r)
	}
	if list, err := jobs.List(context.Background(), b.js, jobstate.Filter{State: jobstate.Cancelled}); err != nil || len(list) != 1 || list[0].ID != e.ID {
		t.Fatalf("hub jobs ls --state cancelled: %+v %v", list, err)
	}
	// Cancelling again says it is finished, and parks nothing more.
	if _, err := jobs.Cancel(context.Background(), b.js, e.ID); !errors.Is(err, jobstate.ErrFinished) {
		t.Fatalf("second cancel: %v", err)
	}

	rq, err := jobs.Requeue(context.Background(), b.js, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := b.jobMsg(t, rq.Seq)
	if err != nil || msg.Header.Get(jobstate.HeaderEnqueued) != "" {
		t.Fatalf("requeued message %+v: %v", msg, err)
	}
	natstest.WaitFor(t, wait, "the requeued job to be done", func() bool {
		r := b.job(t, e.ID)
		return r.State == jobstate.Done && r.RequestSeq == rq.Seq
	})
	if svc.count() != 1 || string(svc.call(0).Body) != `{"n":7}` {
		t.Fatalf("%d calls", svc.count())
	}
	if read, skipped := d.reads(t, "ocr"); read != 1 || skipped != 0 {
		t.Fatalf("records read %v, taken from the mark %v: the requeue is read", read, skipped)
	}
}

// A job cancelled while a worker holds its message (read or not) is the
// worker's: the cancel leaves a delivered message in JOBS, so a call that
// fails is retried (as when a worker read the record before the cancel)
// rather than left failed with nothing to retry it.
func TestCancelWhileTheMarkedJobIsCalledLeavesItToTheWorker(t *testing.T) {
	b := newBus(t)
	release := make(chan struct{})
	svc := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			reply(w, 503, `{}`)
			return
		}
		reply(w, 200, `{"ok":1}`)
	})
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	pastSkew()
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`)})
	natstest.WaitFor(t, wait, "the call", func() bool { return svc.count() == 1 })
	if _, err := jobs.Cancel(context.Background(), b.js, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.jobMsg(t, e.Seq); err != nil {
		t.Fatalf("a delivered message was withdrawn: %v", err)
	}
	close(release)
	b.waitState(t, e.ID, jobstate.Done)
	b.settled(t, jobs.ConsumerName("ocr"), e.Seq)
	if svc.count() != 2 {
		t.Fatalf("%d calls", svc.count())
	}
}

// Hazard (b): a consumer deleted and created again delivers the stream
// from its start, done jobs included, each for the first time and with
// its mark. Those are read (and answered from their results); and so is
// every delivery of a replay consumer.
func TestAConsumerCreatedAgainDoesNotRunDoneJobsAgain(t *testing.T) {
	old := consume.ReplayPoll
	consume.ReplayPoll = 50 * time.Millisecond
	t.Cleanup(func() { consume.ReplayPoll = old })
	b := newBus(t)
	svc := newFake(t, ok)
	cfg := testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)})
	d := b.start(t, cfg)
	pastSkew()
	var ids []string
	var last uint64
	for range 3 {
		e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`)})
		ids, last = append(ids, e.ID), e.Seq
	}
	for _, id := range ids {
		b.waitState(t, id, jobstate.Done)
	}
	if read, skipped := d.reads(t, "ocr"); read != 0 || skipped != 3 {
		t.Fatalf("records read %v, taken from the mark %v", read, skipped)
	}
	b.settled(t, jobs.ConsumerName("ocr"), last)
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if err := b.js.DeleteConsumer(context.Background(), events.StreamJobs, jobs.ConsumerName("ocr")); err != nil {
		t.Fatal(err)
	}
	d = b.start(t, cfg) // creates it again: it delivers the three done jobs
	b.settled(t, jobs.ConsumerName("ocr"), last)
	if svc.count() != 3 {
		t.Fatalf("%d calls: done jobs ran again", svc.count())
	}
	if read, skipped := d.reads(t, "ocr"); read != 3 || skipped != 0 {
		t.Fatalf("records read %v, taken from the mark %v", read, skipped)
	}
	// `hub replay jobs-ocr`: its deliveries are first ones too.
	if _, err := b.js.CreateConsumer(context.Background(), events.StreamJobs, jetstream.ConsumerConfig{Durable: stream.ReplayName("jobs-ocr"),
		AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "jobs.ocr.*"}); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, wait, "the replay", func() bool { r, _ := d.reads(t, "ocr"); return r == 6 })
	if svc.count() != 3 {
		t.Fatalf("%d calls: a replay ran done jobs again", svc.count())
	}
	natstest.WaitFor(t, wait, "the drained replay consumer to be deleted", func() bool {
		_, err := b.js.Consumer(context.Background(), events.StreamJobs, stream.ReplayName("jobs-ocr"))
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
	// A job enqueued now is the new consumer's own.
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`)})
	b.waitState(t, e.ID, jobstate.Done)
	if _, skipped := d.reads(t, "ocr"); skipped != 1 || svc.count() != 4 {
		t.Fatalf("taken from the mark %v, calls %d", skipped, svc.count())
	}
}

// Hazard (c): a scheduled job is recorded scheduled, not pending, and
// its schedule carries no mark, so the job it fires is read — and a
// scheduled job cancelled before its eta is not called.
func TestScheduledJobsAreReadWhenTheyFire(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	d := b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	pastSkew()
	eta := time.Now().Add(time.Second)
	run := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"run":1}`), ETA: eta})
	skip := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"run":0}`), ETA: eta})
	for _, e := range []jobs.Enqueued{run, skip} {
		if m, err := b.jobMsg(t, e.Seq); err != nil || m.Header.Get(jobstate.HeaderEnqueued) != "" {
			t.Fatalf("schedule %+v: %v", m, err)
		}
	}
	if _, err := jobs.Cancel(context.Background(), b.js, skip.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, run.ID, jobstate.Done)
	natstest.WaitFor(t, wait, "both fired jobs read", func() bool { r, _ := d.reads(t, "ocr"); return r == 2 })
	if _, skipped := d.reads(t, "ocr"); skipped != 0 {
		t.Fatalf("a fired schedule was taken from a mark")
	}
	b.settled(t, jobs.ConsumerName("ocr"), 0)
	if svc.count() != 1 || string(svc.call(0).Body) != `{"run":1}` {
		t.Fatalf("%d calls", svc.count())
	}
	if r := b.job(t, skip.ID); r.State != jobstate.Cancelled {
		t.Fatalf("cancelled scheduled job: %+v", r)
	}
}

// Requeues carry no mark, or a requeue header: `hub jobs requeue` strips
// it, and a DLQ requeue (healthmon's ops.Requeue copies the headers and
// adds Pulsehub-Requeued-From) is told by that header.
func TestRequeuedMarkedJobsAreRead(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			reply(w, 422, `{"error":"bad"}`)
			return
		}
		reply(w, 200, `{"ok":1}`)
	})
	d := b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	pastSkew()
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`)})
	b.waitState(t, e.ID, jobstate.Dead)
	orig, err := b.jobMsg(t, e.Seq)
	if err != nil {
		t.Fatal(err)
	}
	// As ops.Requeue does: the headers but JetStream's, the DLQ's sequence.
	m := jobs.RequeueMsg(orig, e.ID, "ocr", time.Now())
	if m.Header.Get(jobstate.HeaderEnqueued) != "" {
		t.Fatal("RequeueMsg kept Enqueue's mark")
	}
	m.Header.Del(events.HeaderRequeuedFor)
	m.Header.Set(jobstate.HeaderEnqueued, "1")
	m.Header.Set(events.HeaderRequeuedFrom, "1")
	if _, err := b.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, wait, "the requeued job to be done", func() bool { return b.job(t, e.ID).State == jobstate.Done })
	if read, skipped := d.reads(t, "ocr"); read != 1 || skipped != 1 {
		t.Fatalf("records read %v, taken from the mark %v", read, skipped)
	}
	if svc.count() != 2 {
		t.Fatalf("%d calls", svc.count())
	}
}

// Graph nodes are published by the engine (jobs.Client.Publish) without
// a mark: their records carry the graph, which settleJob needs to start
// the children.
func TestGraphNodesAreRead(t *testing.T) {
	b := newBus(t)
	a := jsonFake(t, `{"a":1}`)
	d := b.start(t, testConfig(map[string]channel.Config{"a": svcConfig(a.URL, 1)}))
	pastSkew()
	e := b.enqueueGraph(t, `{"graph": {"nodes": {"x": {"service": "a", "task": "t"}, "y": {"service": "a", "task": "t"}}, "edges": [["x", "y"]]}}`)
	b.waitGraph(t, e.ID, graph.StateDone)
	if read, skipped := d.reads(t, "a"); read != 2 || skipped != 0 {
		t.Fatalf("records read %v, taken from the mark %v", read, skipped)
	}
	for _, n := range []string{"x", "y"} {
		r := b.job(t, graph.JobID(e.ID, n))
		if m, err := b.jobMsg(t, r.RequestSeq); err != nil || m.Header.Get(jobstate.HeaderEnqueued) != "" {
			t.Fatalf("node %s's message %+v: %v", n, m, err)
		}
	}
}

// A mark is a header: whoever may publish on jobs.> (the operator, the
// dispatcher) can set it. On a job never enqueued it skips a read that
// would have found nothing; the body is still validated, so an invalid
// one is dead-lettered without a call, and the next job runs.
func TestAForgedMarkStillHasItsBodyValidated(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	d := b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	pastSkew()
	for _, body := range []string{`{"payload":{},"max_retries":-1,"colour":"red"}`, `{"payload":{},"result_subject":"odoo.cmd.res_partner.write"}`, `not json`} {
		ev := events.New(context.Background(), "/test", jobs.Type, []byte(body))
		m := ev.Msg("jobs.ocr.extract")
		m.Header.Set(jobstate.HeaderEnqueued, "1")
		if _, err := b.js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if r := b.waitState(t, ev.ID, jobstate.Dead); r.Attempts != 0 {
			t.Fatalf("forged %s: record %+v", body, r)
		}
	}
	b.waitCount(t, events.StreamDLQ, "dlq.jobs-ocr.>", 3)
	if _, skipped := d.reads(t, "ocr"); skipped != 3 || svc.count() != 0 {
		t.Fatalf("taken from the mark %v, calls %d", skipped, svc.count())
	}
	ev := events.New(context.Background(), "/test", jobs.Type, []byte(`{"payload":{"by":"hand"}}`))
	m := ev.Msg("jobs.ocr.extract")
	m.Header.Set(jobstate.HeaderEnqueued, "1")
	if _, err := b.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r := b.waitState(t, ev.ID, jobstate.Done)
	if r.Service != "ocr" || r.Task != "extract" || r.Attempts != 1 || !r.CreatedAt.Equal(ev.Time) {
		t.Fatalf("record of a job published by hand %+v", r)
	}
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`)})
	b.waitState(t, e.ID, jobstate.Done)
	if svc.count() != 2 {
		t.Fatalf("%d calls", svc.count())
	}
}
