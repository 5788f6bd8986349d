package dispatch

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/cache"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
)

func TestEnqueuedJobSkipsTheCacheAndItsFirstAttemptReplacesThePendingRecord(t *testing.T) {
	b := newBus(t)
	svc, release := newHeldFake(t, `{"ok":1}`)
	cfg := testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)})
	e := stoppedWithAJob(t, b, cfg) // recorded pending before any dispatcher reads it
	d := b.start(t, cfg)
	started := b.waitState(t, e.ID, jobstate.Started)
	kv, err := b.js.KeyValue(context.Background(), events.BucketJobs)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := kv.History(context.Background(), e.ID); err != nil || len(h) != 1 {
		t.Fatalf("history while the call runs: %d revisions (%v), want the started one alone", len(h), err)
	}
	close(release)
	done := b.waitState(t, e.ID, jobstate.Done)
	if done.Attempts != 1 || done.Description != "scan" || done.IdentityKey != "scan-1" || !done.CreatedAt.Equal(started.CreatedAt) || done.RequestSeq != e.Seq {
		t.Fatalf("record %+v", done)
	}
	for result, want := range map[string]float64{"skipped": 1, "miss": 0, "hit": 0} {
		if n := counterValue(t, d.reg, "pulsehub_dispatcher_cache_lookups_total", map[string]string{"service": "ocr", "result": result}); n != want {
			t.Fatalf("cache lookups %s = %v, want %v", result, n, want)
		}
	}
}

// stoppedWithAJob starts and stops a dispatcher (so its buckets and
// consumers exist), then enqueues one job for it while none runs.
func stoppedWithAJob(t *testing.T, b *bus, cfg Config) jobs.Enqueued {
	t.Helper()
	if err := b.start(t, cfg).stop(); err != nil {
		t.Fatal(err)
	}
	return b.enqueue(t, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{}`), Description: "scan", IdentityKey: "scan-1"})
}

func TestRedeliveredJobLooksInTheCacheEvenIfItsRecordShowsNoAttempt(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	cfg := testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)})
	e := stoppedWithAJob(t, b, cfg)
	ctx := context.Background()
	// An earlier attempt cached its answer but its record was lost.
	key := events.StableID(jobs.ConsumerName("ocr"), e.ID)
	c := cacheOf(t, b)
	answer, _ := json.Marshal(Result{Service: "ocr", Task: "extract", IdempotencyKey: key, Status: 200, Response: json.RawMessage(`{"from":"cache"}`)})
	if err := c.Put(ctx, key, answer); err != nil {
		t.Fatal(err)
	}
	// And its delivery never finished.
	cons, err := b.js.Consumer(ctx, events.StreamJobs, jobs.ConsumerName("ocr"))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.Nak(); err != nil {
			t.Fatal(err)
		}
	}
	d := b.start(t, cfg)
	b.waitState(t, e.ID, jobstate.Done)
	if svc.count() != 0 {
		t.Fatalf("service called %d times; the redelivery should be answered from the cache", svc.count())
	}
	if n := counterValue(t, d.reg, "pulsehub_dispatcher_cache_lookups_total", map[string]string{"service": "ocr", "result": "hit"}); n != 1 {
		t.Fatalf("cache hits = %v", n)
	}
}

// limitBucket sets the most bytes a value of bucket may have: a small
// limit makes every write fail while reads still work.
func limitBucket(t *testing.T, b *bus, bucket string, size int32) {
	t.Helper()
	ctx := context.Background()
	s, err := b.js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgSize = size
	if _, err := b.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestLostJobStateWritesNeverCostASecondCall(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	cfg := testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)})
	e := stoppedWithAJob(t, b, cfg)
	// Neither started nor done can be recorded (New ensures the bucket's
	// own settings, so the limit comes after it).
	d := b.startWith(t, cfg, func() { limitBucket(t, b, events.BucketJobs, 16) })
	natstest.WaitFor(t, wait, "the redelivery answered from the cache", func() bool {
		return counterValue(t, d.reg, "pulsehub_dispatcher_cache_lookups_total", map[string]string{"service": "ocr", "result": "hit"}) > 0
	})
	if r := b.job(t, e.ID); r.State != jobstate.Pending || r.Attempts != 0 {
		t.Fatalf("record while writes fail: %+v", r)
	}
	limitBucket(t, b, events.BucketJobs, -1)
	rec := b.waitState(t, e.ID, jobstate.Done)
	// The attempt itself was never recorded, and the delivery that got
	// done was answered from the cache: it counts no attempt.
	if svc.count() != 1 || rec.ResultSeq == 0 {
		t.Fatalf("calls %d, record %+v", svc.count(), rec)
	}
	if n := b.count(t, events.StreamResults, "results.ocr.>"); n != 1 {
		t.Fatalf("RESULTS holds %d results", n)
	}
}

func TestAnswerThatCannotBeCachedIsStillPublishedAndTheJobDone(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	cfg := testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)})
	e := stoppedWithAJob(t, b, cfg)
	b.startWith(t, cfg, func() { limitBucket(t, b, events.BucketResults, 16) })
	rec := b.waitState(t, e.ID, jobstate.Done)
	if svc.count() != 1 || rec.ResultSeq == 0 || b.count(t, events.StreamResults, "results.ocr.>") != 1 {
		t.Fatalf("calls %d, record %+v", svc.count(), rec)
	}
	if _, hit, err := cacheOf(t, b).Get(context.Background(), events.StableID(jobs.ConsumerName("ocr"), e.ID)); hit || err != nil {
		t.Fatalf("cached: %v %v", hit, err)
	}
}

// cacheOf opens the result cache as the dispatcher does.
func cacheOf(t *testing.T, b *bus) *cache.Cache {
	t.Helper()
	c, err := cache.Open(context.Background(), b.js, stream.DefaultConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestJobRecordsProveWhatWasDoneBefore(t *testing.T) {
	const seq = 7
	enqueued := jobstate.Record{State: jobstate.Pending, RequestSeq: seq}
	tried := jobstate.Record{State: jobstate.Failed, Attempts: 1, RequestSeq: seq}
	for _, tc := range []struct {
		name      string
		rec       jobstate.Record
		known     bool
		delivered uint64
		validated bool
		noAnswer  bool
	}{
		{"recorded pending by Enqueue, first delivery", enqueued, true, 1, true, true},
		{"recorded pending by Enqueue, redelivered", enqueued, true, 2, true, false},
		{"no record (published by hand)", jobstate.Record{}, false, 1, false, false},
		{"an attempt was recorded", tried, true, 1, true, false},
		{"recorded for another message", jobstate.Record{State: jobstate.Pending, RequestSeq: seq + 1}, true, 1, false, false},
		{"requeued (no message named yet)", jobstate.Record{State: jobstate.Pending}, true, 1, false, false},
		{"failed before any attempt (its dead letter was not stored)", jobstate.Record{State: jobstate.Failed, RequestSeq: seq}, true, 1, false, false},
		{"dead without an attempt (a bad body)", jobstate.Record{State: jobstate.Dead, RequestSeq: seq}, true, 1, false, false},
		{"done", jobstate.Record{State: jobstate.Done, Attempts: 1, RequestSeq: seq}, true, 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validatedBefore(tc.rec, tc.known, seq); got != tc.validated {
				t.Errorf("validatedBefore = %v", got)
			}
			if got := noAnswerYet(tc.rec, tc.known, seq, tc.delivered); got != tc.noAnswer {
				t.Errorf("noAnswerYet = %v", got)
			}
		})
	}
}
