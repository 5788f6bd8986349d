package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
)

func bus(t *testing.T, withBucket bool) jetstream.JetStream {
	t.Helper()
	js := natstest.RunHub(t).JS
	if withBucket {
		if _, err := jobstate.Open(context.Background(), js, stream.DefaultConfig(), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	return js
}

func TestParse(t *testing.T) {
	j, err := jobs.Parse([]byte(`{"payload":{"a":1},"max_retries":0,"retry_pattern":{"1":10,"5":60.5},"eta":"2026-11-22T05:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if j.MaxAttempts(8) != 1 || !j.ETA.Equal(time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)) || string(j.Payload) != `{"a":1}` {
		t.Fatalf("job %+v", j)
	}
	delays := map[int]time.Duration{1: 10 * time.Second, 4: 10 * time.Second, 5: 60500 * time.Millisecond, 99: 60500 * time.Millisecond}
	for n, want := range delays {
		if d, ok := j.RetryDelay(n); !ok || d != want {
			t.Errorf("RetryDelay(%d) = %s %v, want %s", n, d, ok, want)
		}
	}
	if _, ok := (jobs.Job{RetryPattern: map[int]float64{3: 1}}).RetryDelay(2); ok {
		t.Error("a pattern starting at try 3 said something for try 2")
	}
	if (jobs.Job{}).MaxAttempts(8) != 8 {
		t.Error("default attempts")
	}
	for _, bad := range []string{`{}`, `{"payload":1,"colour":"red"}`, `{"payload":1,"retry_pattern":{"0":1}}`, `not json`, `{"payload":1,"eta":"soon"}`,
		`{"payload":1,"result_subject":"odoo.cmd.res_partner.unlink"}`, `{"payload":1,"result_subject":"results"}`,
		`{"payload":1,"identity_key":"` + strings.Repeat("k", 129) + `"}`} {
		if _, err := jobs.Parse([]byte(bad)); !events.IsPermanent(err) {
			t.Errorf("Parse(%s) = %v, want a permanent error", bad, err)
		}
	}
}

func TestEnqueueRecordsAndRefusesBadJobs(t *testing.T) {
	js := bus(t, true)
	ctx := events.WithCorrelationID(context.Background(), "corr-1")
	id, dup, err := jobs.Enqueue(ctx, js, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"a":1}`), Description: "d", IdentityKey: "k"})
	if err != nil || dup {
		t.Fatal(err)
	}
	rec, err := jobs.Get(ctx, js, id)
	if err != nil || rec.State != jobstate.Pending || rec.RequestSeq != 1 || rec.Description != "d" || rec.IdentityKey != "k" || rec.RequestSubject != "jobs.ocr.extract" {
		t.Fatalf("record %+v %v", rec, err)
	}
	s, _ := js.Stream(ctx, events.StreamJobs)
	m, _ := s.GetMsg(ctx, 1)
	ev := events.FromMsg(m.Header, m.Data)
	if ev.ID != id || ev.Type != jobs.Type || ev.Source != jobs.Source || ev.CorrelationID != "corr-1" || m.Header.Get(events.HeaderMsgID) != "k" {
		t.Fatalf("envelope %+v %v", ev, m.Header)
	}
	bad := []struct {
		svc, task string
		job       jobs.Job
		want      string
	}{
		{"o.cr", "t", jobs.Job{}, "letters"},
		{"ocr", "", jobs.Job{}, "letters"},
		{"ocr", "t", jobs.Job{Payload: json.RawMessage(`{`)}, "json"},
		{"ocr", "t", jobs.Job{Path: "no-slash"}, "path"},
		{"ocr", "t", jobs.Job{MaxRetries: new(int), Method: "TRACE"}, "method"},
		{"ocr", "t", jobs.Job{ETA: time.Now().Add(40 * 24 * time.Hour)}, "max_age"},
		{strings.Repeat("s", 60), "t", jobs.Job{}, "1-59 letters"},
		{"ocr", strings.Repeat("t", 4060), jobs.Job{}, "1-59 letters"},
		{"ocr", "t", jobs.Job{ResultSubject: "odoo.cmd.res_partner.unlink"}, "results."},
		{"ocr", "t", jobs.Job{ResultSubject: "results." + strings.Repeat("r", 1020)}, "result_subject"},
		{"ocr", "t", jobs.Job{IdentityKey: strings.Repeat("k", 129)}, "identity_key"},
		{"ocr", "t", jobs.Job{IdentityKey: "a\nb"}, "identity_key"},
	}
	for _, b := range bad {
		if _, _, err := jobs.Enqueue(ctx, js, b.svc, b.task, b.job); err == nil || !strings.Contains(strings.ToLower(err.Error()), b.want) {
			t.Errorf("Enqueue(%s, %s, %+v) = %v, want an error about %s", b.svc, b.task, b.job, err, b.want)
		}
	}
}

func TestEnqueueWithoutTheBucketStillPublishes(t *testing.T) {
	js := bus(t, false)
	id, _, err := jobs.Enqueue(context.Background(), js, "ocr", "t", jobs.Job{})
	if err != nil || id == "" {
		t.Fatal(err)
	}
	if _, err := jobs.Get(context.Background(), js, id); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("get: %v", err)
	}
	if _, err := jobs.List(context.Background(), js, jobstate.Filter{}); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("list: %v", err)
	}
	if _, err := jobs.Requeue(context.Background(), js, id); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("requeue: %v", err)
	}
}

func TestEnqueueNeedsTheJobsStream(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if _, _, err := jobs.Enqueue(context.Background(), js, "ocr", "t", jobs.Job{}); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestListAndRequeueRefusals(t *testing.T) {
	js := bus(t, true)
	ctx := context.Background()
	if _, err := jobs.List(ctx, js, jobstate.Filter{State: "enqueued"}); err == nil {
		t.Fatal("listed an unknown state")
	}
	id, _, _ := jobs.Enqueue(ctx, js, "ocr", "t", jobs.Job{})
	l, err := jobs.List(ctx, js, jobstate.Filter{Service: "ocr", State: jobstate.Pending})
	if err != nil || len(l) != 1 || l[0].ID != id {
		t.Fatalf("list %+v %v", l, err)
	}
	if _, err := jobs.Requeue(ctx, js, id); err == nil || !strings.Contains(err.Error(), "is pending") {
		t.Fatalf("requeued a pending job: %v", err)
	}
	if _, err := jobs.Requeue(ctx, js, "nope"); !errors.Is(err, jobstate.ErrNotFound) {
		t.Fatalf("requeue unknown: %v", err)
	}
	store, _ := jobstate.Bind(ctx, js)
	_ = store.Put(ctx, jobstate.Record{ID: "lost", Service: "ocr", Task: "t", State: jobstate.Dead, RequestSeq: 999})
	if _, err := jobs.Requeue(ctx, js, "lost"); err == nil || !strings.Contains(err.Error(), "message 999") {
		t.Fatalf("requeue of a message gone: %v", err)
	}
	_ = store.Put(ctx, jobstate.Record{ID: "noseq", Service: "ocr", Task: "t", State: jobstate.Done})
	if _, err := jobs.Requeue(ctx, js, "noseq"); err == nil || !strings.Contains(err.Error(), "names no message") {
		t.Fatalf("requeue without a seq: %v", err)
	}
}

func TestRequeueRepublishesTheSameJob(t *testing.T) {
	js := bus(t, true)
	ctx := context.Background()
	id, _, _ := jobs.Enqueue(ctx, js, "ocr", "t", jobs.Job{Payload: json.RawMessage(`7`)})
	store, _ := jobstate.Bind(ctx, js)
	rec, _ := store.Get(ctx, id)
	rec.State, rec.Attempts, rec.LastError, rec.DoneAt = jobstate.Dead, 3, "boom", time.Now()
	_ = store.Put(ctx, rec)
	rq, err := jobs.Requeue(ctx, js, id)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, events.StreamJobs)
	m, _ := s.GetMsg(ctx, rq.Seq)
	if string(m.Data) != `{"payload":7}` || events.FromMsg(m.Header, m.Data).ID != id ||
		m.Header.Get(events.HeaderRequeuedFor) != "jobs-ocr" || !strings.HasPrefix(m.Header.Get(events.HeaderMsgID), "requeue:"+id) {
		t.Fatalf("requeued %s %v", m.Data, m.Header)
	}
	after, _ := jobs.Get(ctx, js, id)
	if after.State != jobstate.Pending || after.Attempts != 0 || after.LastError != "boom" || !after.DoneAt.IsZero() {
		t.Fatalf("record %+v", after)
	}
}

func TestCancelMarksAWaitingJobAndRequeueRunsItAgain(t *testing.T) {
	js := bus(t, true)
	ctx := context.Background()
	id, _, err := jobs.Enqueue(ctx, js, "ocr", "t", jobs.Job{Payload: []byte(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := jobs.Cancel(ctx, js, id)
	if err != nil || rec.State != jobstate.Cancelled {
		t.Fatalf("cancel: %+v %v", rec, err)
	}
	if got, _ := jobs.Get(ctx, js, id); got.State != jobstate.Cancelled || got.DoneAt.IsZero() {
		t.Fatalf("stored %+v", got)
	}
	if _, err := jobs.Cancel(ctx, js, id); err == nil || !strings.Contains(err.Error(), "is cancelled") {
		t.Fatalf("cancelled twice: %v", err)
	}
	if _, err := jobs.Cancel(ctx, js, "nope"); !errors.Is(err, jobstate.ErrNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}
	if _, err := jobs.Requeue(ctx, js, id); err != nil {
		t.Fatalf("requeue a cancelled job: %v", err)
	}
	if got, _ := jobs.Get(ctx, js, id); got.State != jobstate.Pending {
		t.Fatalf("after requeue: %+v", got)
	}
}
