package dispatch

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
)

func TestJobThatFailsTwiceThenAnswersIsCalledThreeTimesAndDone(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			reply(w, http.StatusServiceUnavailable, `{"error":"warming up"}`)
			return
		}
		reply(w, 200, `{"total":42.5}`)
	})
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"attachment_id":311}`), Description: "OCR of expense 42"})

	rec := b.waitState(t, e.ID, jobstate.Done)
	if svc.count() != 3 {
		t.Fatalf("service called %d times, want 3", svc.count())
	}
	if rec.Attempts != 3 || !strings.Contains(rec.LastError, "503") || rec.ResultSubject != "results.ocr.extract" || rec.ResultSeq == 0 {
		t.Fatalf("record = %+v", rec)
	}
	if err := schemas.ValidateValue("job-state", rec); err != nil {
		t.Fatalf("record does not match its schema: %v", err)
	}
	key := events.StableID("jobs-ocr", e.ID)
	for i := range 3 {
		if got := svc.call(i).Header.Get("Idempotency-Key"); got != key {
			t.Fatalf("call %d Idempotency-Key = %q, want %q", i+1, got, key)
		}
	}
	res := b.read(t, events.StreamResults, "results.ocr.extract")
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	if err := schemas.Validate("result", res[0].Data); err != nil {
		t.Fatalf("result does not match its schema: %v", err)
	}
	r := decodeResult(t, res[0].Data)
	if r.JobID != e.ID || r.RequestID != e.ID || r.Status != 200 || string(r.Response) != `{"total":42.5}` ||
		string(r.Request) != `{"attachment_id":311}` || r.Cached || r.IdempotencyKey != key {
		t.Fatalf("result = %+v", r)
	}
	if got := res[0].Header.Get(events.HeaderCausationID); got != e.ID {
		t.Fatalf("result ce-causationid = %q, want the job's id %q", got, e.ID)
	}
}

func TestClientErrorIsDeadLetteredAtOnceWithItsReason(t *testing.T) {
	b := newBus(t)
	long := strings.Repeat("x", 3000)
	svc := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusUnprocessableEntity, `{"error":"attachment 311 is not an image","pad":"`+long+`"}`)
	})
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`)})

	rec := b.waitState(t, e.ID, jobstate.Dead)
	b.waitCount(t, events.StreamDLQ, "dlq.jobs-ocr.>", 1)
	if svc.count() != 1 {
		t.Fatalf("called %d times, want 1", svc.count())
	}
	dl := b.read(t, events.StreamDLQ, "dlq.jobs-ocr.>")[0]
	reason := dl.Header.Get(events.HeaderDLQReason)
	if dl.Subject != "dlq.jobs-ocr.jobs.ocr.extract" || dl.Header.Get(events.HeaderDLQKind) != "permanent" ||
		dl.Header.Get(events.HeaderDLQAttempts) != "1" || !strings.Contains(reason, "422") ||
		!strings.Contains(reason, "attachment 311 is not an image") {
		t.Fatalf("dead letter %s: %v", dl.Subject, dl.Header)
	}
	if strings.Count(reason, "x") > 1100 {
		t.Fatalf("reason carries more than the first KiB of the answer (%d bytes)", len(reason))
	}
	if rec.Attempts != 1 || !strings.Contains(rec.LastError, "422") || rec.DoneAt.IsZero() {
		t.Fatalf("record = %+v", rec)
	}
}

func TestExhaustedAttemptsGoToTheDLQ(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 500, `{"error":"boom"}`) })
	b.start(t, testConfig(map[string]channel.Config{"llm": svcConfig(svc.URL, 2)}))
	e := b.enqueue(t, "llm", "summarise", jobs.Job{Payload: json.RawMessage(`"text"`), MaxRetries: intp(2)})

	rec := b.waitState(t, e.ID, jobstate.Dead)
	b.waitCount(t, events.StreamDLQ, "dlq.jobs-llm.>", 1)
	dl := b.read(t, events.StreamDLQ, "dlq.jobs-llm.>")[0]
	if svc.count() != 3 || rec.Attempts != 3 || rec.MaxAttempts != 3 {
		t.Fatalf("calls %d, record %+v", svc.count(), rec)
	}
	if dl.Header.Get(events.HeaderDLQKind) != "exhausted" || dl.Header.Get(events.HeaderDLQAttempts) != "3" ||
		!strings.Contains(dl.Header.Get(events.HeaderDLQReason), "500") {
		t.Fatalf("dead letter: %v", dl.Header)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			reply(w, http.StatusTooManyRequests, `{"error":"slow down"}`)
			return
		}
		reply(w, 200, `{}`)
	})
	b.start(t, testConfig(map[string]channel.Config{"llm": svcConfig(svc.URL, 2)}))
	e := b.enqueue(t, "llm", "chat", jobs.Job{Payload: json.RawMessage(`{}`)})

	b.waitState(t, e.ID, jobstate.Done)
	if svc.count() != 2 {
		t.Fatalf("calls = %d", svc.count())
	}
	if gap := svc.call(1).At.Sub(svc.call(0).Replied); gap < time.Second {
		t.Fatalf("second call came %s after the 429, before its Retry-After of 1s", gap)
	}
}

func TestRetryPatternSetsTheWaits(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			reply(w, 502, `{}`)
			return
		}
		reply(w, 200, `{}`)
	})
	b.start(t, testConfig(map[string]channel.Config{"llm": svcConfig(svc.URL, 2)}))
	e := b.enqueue(t, "llm", "chat", jobs.Job{Payload: json.RawMessage(`{}`), RetryPattern: map[int]float64{1: 1, 5: 60}})

	b.waitState(t, e.ID, jobstate.Done)
	if gap := svc.call(1).At.Sub(svc.call(0).Replied); gap < time.Second {
		t.Fatalf("retry came after %s; the pattern says 1s from try 1", gap)
	}
}

func TestRetryAfterOutlastsAShorterRetryPattern(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			reply(w, http.StatusTooManyRequests, `{}`)
			return
		}
		reply(w, 200, `{}`)
	})
	b.start(t, testConfig(map[string]channel.Config{"llm": svcConfig(svc.URL, 2)}))
	e := b.enqueue(t, "llm", "chat", jobs.Job{Payload: json.RawMessage(`{}`), RetryPattern: map[int]float64{1: 0.05}})

	b.waitState(t, e.ID, jobstate.Done)
	if gap := svc.call(1).At.Sub(svc.call(0).Replied); gap < time.Second {
		t.Fatalf("retry came after %s; the pattern's 50ms must not cut the Retry-After of 1s", gap)
	}
}

func TestMaxRetriesZeroIsOneAttemptThenTheDLQ(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 503, `{}`) })
	b.start(t, testConfig(map[string]channel.Config{"llm": svcConfig(svc.URL, 2)}))
	e := b.enqueue(t, "llm", "chat", jobs.Job{Payload: json.RawMessage(`{}`), MaxRetries: intp(0)})

	rec := b.waitState(t, e.ID, jobstate.Dead)
	b.waitCount(t, events.StreamDLQ, "dlq.jobs-llm.>", 1)
	dl := b.read(t, events.StreamDLQ, "dlq.jobs-llm.>")[0]
	if svc.count() != 1 || rec.Attempts != 1 || rec.MaxAttempts != 1 || !strings.Contains(rec.LastError, "attempt 1 of 1") {
		t.Fatalf("calls %d, record %+v", svc.count(), rec)
	}
	if dl.Header.Get(events.HeaderDLQKind) != "exhausted" || dl.Header.Get(events.HeaderDLQAttempts) != "1" {
		t.Fatalf("dead letter: %v", dl.Header)
	}
}

func TestETAJobDoesNotRunBeforeItsTime(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	eta := time.Now().Add(time.Second)
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`), ETA: eta})

	if !strings.HasPrefix(e.Subject, "schedule.jobs.ocr.extract.") || e.ETA.Before(eta) {
		t.Fatalf("enqueued %+v", e)
	}
	if rec := b.job(t, e.ID); rec.State != jobstate.Scheduled || rec.ETA.Before(eta.Truncate(time.Second)) {
		t.Fatalf("record right after enqueue = %+v", rec)
	}
	rec := b.waitState(t, e.ID, jobstate.Done)
	if at := svc.call(0).At; at.Before(eta) {
		t.Fatalf("called at %s, before its eta %s", at.Format(time.RFC3339Nano), eta.Format(time.RFC3339Nano))
	}
	if svc.count() != 1 || rec.Attempts != 1 || rec.RequestSubject != "jobs.ocr.extract" {
		t.Fatalf("calls %d, record %+v", svc.count(), rec)
	}
	if h := svc.call(0).Header.Get("Idempotency-Key"); h != events.StableID("jobs-ocr", e.ID) {
		t.Fatalf("the scheduled copy lost the job's id: key %q", h)
	}
}

func TestJobPublishedByHandWithAFutureETAWaits(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	eta := time.Now().Add(time.Second)
	body, _ := json.Marshal(jobs.Job{Payload: json.RawMessage(`{}`), ETA: eta})
	ev := events.New(context.Background(), "/test", jobs.Type, body)
	b.publishEvent(t, "jobs.ocr.extract", ev)

	b.waitState(t, ev.ID, jobstate.Done)
	if at := svc.call(0).At; at.Before(eta) {
		t.Fatalf("called at %s, before its eta %s", at, eta)
	}
}

func TestDuplicateIdentityKeyIsNotEnqueued(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	first := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"n":1}`), IdentityKey: "ocr:hr.expense:42"})
	second := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"n":2}`), IdentityKey: "ocr:hr.expense:42"})
	if first.Duplicate || !second.Duplicate || second.ID != first.ID || second.Seq != first.Seq {
		t.Fatalf("first %+v, second %+v", first, second)
	}
	if n := b.count(t, events.StreamJobs, "jobs.ocr.>"); n != 1 {
		t.Fatalf("JOBS holds %d jobs", n)
	}
	// Scheduled jobs are de-duplicated too.
	later := time.Now().Add(time.Hour)
	s1 := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`), IdentityKey: "k2", ETA: later})
	s2 := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`), IdentityKey: "k2", ETA: later})
	if s1.Duplicate || !s2.Duplicate || s2.ID != s1.ID {
		t.Fatalf("scheduled: %+v %+v", s1, s2)
	}

	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	b.waitState(t, first.ID, jobstate.Done)
	if svc.count() != 1 || string(svc.call(0).Body) != `{"n":1}` {
		t.Fatalf("calls %d", svc.count())
	}
}

func TestInvalidJobBodyIsDeadLetteredAtOnce(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	ev := events.New(context.Background(), "/test", jobs.Type, []byte(`{"payload":{},"max_retries":-1,"colour":"red"}`))
	b.publishEvent(t, "jobs.ocr.extract", ev)

	rec := b.waitState(t, ev.ID, jobstate.Dead)
	b.waitCount(t, events.StreamDLQ, "dlq.jobs-ocr.>", 1)
	dl := b.read(t, events.StreamDLQ, "dlq.jobs-ocr.>")[0]
	if dl.Header.Get(events.HeaderDLQKind) != "permanent" || !strings.Contains(dl.Header.Get(events.HeaderDLQReason), "job body") {
		t.Fatalf("dead letter: %v", dl.Header)
	}
	if svc.count() != 0 || rec.Attempts != 0 {
		t.Fatalf("calls %d, record %+v", svc.count(), rec)
	}
}

func TestRequeuedJobIsAnsweredFromTheCache(t *testing.T) {
	b := newBus(t)
	published := b.watch(t, "results.llm.summarise")
	svc := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 200, `{"text":"expensive"}`) })
	d := b.start(t, testConfig(map[string]channel.Config{"llm": svcConfig(svc.URL, 2)}))
	e := b.enqueue(t, "llm", "summarise", jobs.Job{Payload: json.RawMessage(`{}`)})
	b.waitState(t, e.ID, jobstate.Done)
	// A job's answer is kept in RESULTS, where its record points, not in the cache bucket.
	if _, hit, err := cacheOf(t, b).Get(context.Background(), events.StableID("jobs-llm", e.ID)); hit || err != nil {
		t.Fatalf("cache bucket holds the job's answer: %v %v", hit, err)
	}

	rq, err := jobs.Requeue(context.Background(), b.js, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, wait, "the requeued job to be done", func() bool {
		r := b.job(t, e.ID)
		return r.State == jobstate.Done && r.RequestSeq == rq.Seq
	})
	if svc.count() != 1 {
		t.Fatalf("service called %d times; the requeue should be answered from the cache", svc.count())
	}
	res := published.wait(t, 2)
	first, again := decodeResult(t, res[0].Data), decodeResult(t, res[1].Data)
	if first.Cached || !again.Cached || string(again.Response) != `{"text":"expensive"}` || again.DurationMS != 0 ||
		again.IdempotencyKey != first.IdempotencyKey || again.JobID != e.ID {
		t.Fatalf("results: %+v then %+v", first, again)
	}
	if err := schemas.Validate("result", res[1].Data); err != nil {
		t.Fatal(err)
	}
	// RESULTS stored it once: the cached copy repeats the first within the duplicate window.
	if n := b.count(t, events.StreamResults, "results.llm.summarise"); n != 1 {
		t.Fatalf("RESULTS holds %d results", n)
	}
	if hits := counterValue(t, d.reg, "pulsehub_dispatcher_cache_lookups_total", map[string]string{"service": "llm", "result": "hit"}); hits != 1 {
		t.Fatalf("cache hits = %v", hits)
	}
}

func TestReplayedJobsAreAnsweredFromTheCacheEvenAfterTheirLastAttempt(t *testing.T) {
	old := consume.ReplayPoll
	consume.ReplayPoll = 50 * time.Millisecond
	t.Cleanup(func() { consume.ReplayPoll = old })
	b := newBus(t)
	published := b.watch(t, "results.ocr.extract")
	svc := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			reply(w, 503, `{}`)
			return
		}
		reply(w, 200, `{"pages":3}`)
	})
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	e := b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`), MaxRetries: intp(1)})
	first := b.waitState(t, e.ID, jobstate.Done)
	if first.Attempts != 2 || first.MaxAttempts != 2 {
		t.Fatalf("record %+v", first)
	}
	// `hub replay jobs-ocr`: a replay consumer next to the service's own.
	_, err := b.js.CreateConsumer(context.Background(), events.StreamJobs, jetstream.ConsumerConfig{Durable: stream.ReplayName("jobs-ocr"),
		AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "jobs.ocr.*"})
	if err != nil {
		t.Fatal(err)
	}
	r := decodeResult(t, published.wait(t, 2)[1].Data)
	if !r.Cached || r.JobID != e.ID || string(r.Response) != `{"pages":3}` || svc.count() != 2 {
		t.Fatalf("calls %d, replayed result %+v", svc.count(), r)
	}
	natstest.WaitFor(t, wait, "the replayed job recorded done", func() bool {
		rec := b.job(t, e.ID)
		return rec.State == jobstate.Done && rec.Attempts == 2 && rec.UpdatedAt.After(first.UpdatedAt)
	})
	if n := b.count(t, events.StreamDLQ, "dlq.>"); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}

func TestACancelledJobIsAcknowledgedWithoutACall(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 200, `{}`) })
	var e jobs.Enqueued
	b.startWith(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}), func() {
		e = b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`)})
		if _, err := jobs.Cancel(context.Background(), b.js, e.ID); err != nil {
			t.Fatal(err)
		}
	})
	natstest.WaitFor(t, wait, "the cancelled job's message to be acknowledged", func() bool {
		c, err := b.js.Consumer(context.Background(), events.StreamJobs, jobs.ConsumerName("ocr"))
		if err != nil {
			return false
		}
		i, err := c.Info(context.Background())
		return err == nil && i.AckFloor.Stream >= e.Seq && i.NumAckPending == 0
	})
	if svc.count() != 0 {
		t.Fatalf("a cancelled job was called %d times", svc.count())
	}
	if r := b.waitState(t, e.ID, jobstate.Cancelled); r.Attempts != 0 {
		t.Fatalf("record %+v", r)
	}
}
