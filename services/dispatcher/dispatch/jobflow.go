package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/call"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/prometheus/client_golang/prometheus"
)

// jobRun is one delivery of a job: the job, its record, and what the
// delivery did. jobHandler makes one per delivery and passes it to each
// step that needs it: the call (runJob), the job's retry policy
// (retryPolicy), and the state the delivery ended in (settleJob).
type jobRun struct {
	job      jobs.Job
	parseErr error
	rec      jobstate.Record
	known    bool      // the bucket held a record for this job
	cancel   bool      // the record says cancelled: the delivery is skipped
	fresh    bool      // the record proves no attempt was made: no answer can be cached
	started  bool      // an attempt was recorded (the call was admitted)
	result   published // where the answer went
	err      error     // the error the retry policy returned, before dead-lettering swallowed it
}

// jobHandler is the handler of ch's job loop. For each delivery it loads
// the job's run first, so Msg.Attempt comes from the attempts recorded
// (breaker waits and saturation cost no attempt, even across restarts)
// before Logging and Retry read it. Then it runs the standard chain —
// logging, metrics, dead-lettering, the job's retry policy, panic
// recovery — around the call, and writes the state the delivery ended in.
// The chain is made for the delivery: its steps hold the run, rather than
// look it up in the context.
func (d *Dispatcher) jobHandler(ch *channel.Channel, jc *jobConsumer, rm *consume.Metrics) consume.Handler {
	policy := ch.Config().Retry.Policy()
	logging, deadLetter := consume.Logging{Logger: d.log}.Middleware, consume.DeadLetter{JS: d.js}.Middleware
	return consume.Tracing(func(ctx context.Context, m *consume.Msg) error {
		run, err := d.loadRun(ctx, ch.Name(), jc, m)
		if err != nil {
			// The bucket is unreachable: try again shortly rather than
			// run a job whose attempts are unknown.
			return events.RetryAfter(err, time.Second)
		}
		h := consume.Chain(func(ctx context.Context, m *consume.Msg) error { return d.runJob(ctx, m, ch, run) },
			logging, rm.Middleware, deadLetter, run.keepErr, run.retryPolicy(policy).Middleware, consume.Recover)
		return d.settleJob(ctx, m, run, h(ctx, m))
	})
}

// jobConsumer is what a service's job loop knows of its consumer: its
// name and when it was created (consume.Loop.Bound sets it each time the
// loop binds to it; 0 until then).
type jobConsumer struct {
	name    string
	created atomic.Int64 // UnixNano
	read    prometheus.Counter
	skipped prometheus.Counter
}

// consumerClockSkew is how much later than its consumer's creation a
// message must have been stored for its mark to be trusted: in a cluster
// the creation time is the meta leader's clock and the message's the
// stream leader's.
var consumerClockSkew = 10 * time.Millisecond

// trustsMark reports whether m, a job message, can be taken for the
// pending record Enqueue wrote, without reading it (see loadRun): it
// carries Enqueue's mark (jobstate.HeaderEnqueued, set on immediate jobs
// only: no fired schedule, graph node or parked copy carries it, and a
// requeue — `hub jobs requeue`, a DLQ requeue — strips it or is told by
// its requeue headers); this is its first delivery, by the service's own
// consumer (a replay consumer's deliveries are read); and it was stored
// after that consumer was created, so no earlier consumer of that name
// handled it (a consumer deleted and created again delivers the stream
// from its start, done jobs included, each for the first time).
func (jc *jobConsumer) trustsMark(m *consume.Msg) bool {
	if m.Meta == nil || m.Meta.NumDelivered != 1 || m.Meta.Consumer != jc.name {
		return false
	}
	h := m.Raw.Headers()
	if h.Get(jobstate.HeaderEnqueued) == "" || h.Get(events.HeaderRequeuedFor) != "" || h.Get(events.HeaderRequeuedFrom) != "" {
		return false
	}
	created := jc.created.Load()
	return created != 0 && m.Meta.Timestamp.UnixNano() > created+int64(consumerClockSkew)
}

// loadRun reads the job's record and parses the job. A message the hub
// cannot keep a record of — its id is no KV key, its subject names no
// task — fails for good (the DLQ) without a look at the bucket.
//
// A job's first delivery skips the read when the message proves the
// record is the pending one Enqueue wrote (jc.trustsMark): the record is
// made from the message as Enqueue made it (same id, service, task,
// description, identity_key, created_at = the event's time), attempt 1,
// and no answer can be cached yet. What the read caught on a first
// delivery is caught otherwise: a cancellation withdraws a marked message
// from JOBS (jobstate.Store.Cancel), so a cancelled job is not delivered;
// a schedule, a graph node, a requeue or a replay is read as before. The
// body is still validated (Parse): the mark is a header that whoever may
// publish on jobs.> can set (natsauth: the operator and the dispatcher),
// so it proves nothing about the body. See docs/performance.md, "Third
// round".
func (d *Dispatcher) loadRun(ctx context.Context, service string, jc *jobConsumer, m *consume.Msg) (*jobRun, error) {
	id := requestID(m)
	task, terr := jobs.Task(m.Subject())
	switch {
	case !jobstate.ValidID(id):
		return refused(service, m, events.Permanentf("job id (ce-id) %.64q… of %d bytes: a job id is 1-%d letters, digits or -_=./",
			id, len(id), events.MaxIDLen)), nil
	case terr != nil:
		return refused(service, m, events.Permanent(terr)), nil
	}
	run := &jobRun{}
	if jc != nil && jc.trustsMark(m) {
		jc.skipped.Inc()
		run.job, run.parseErr = jobs.Parse(m.Data())
		run.known, run.fresh = true, true
		run.rec = jobstate.Record{ID: id, Service: service, Task: task, State: jobstate.Pending, Description: run.job.Description,
			IdentityKey: run.job.IdentityKey, CreatedAt: m.Event.Time.UTC(), RequestSubject: m.Subject(), RequestSeq: m.Seq()}
		m.Attempt = 1
		return run, nil
	}
	if jc != nil {
		jc.read.Inc()
	}
	rec, err := d.store.Get(ctx, id)
	switch {
	case errors.Is(err, jobstate.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		run.known = true
	}
	if validatedBefore(rec, run.known, m.Seq()) {
		run.job, run.parseErr = jobs.Decode(m.Data())
	} else {
		run.job, run.parseErr = jobs.Parse(m.Data())
	}
	run.fresh = m.Meta != nil && noAnswerYet(rec, run.known, m.Seq(), m.Meta.NumDelivered)
	if !run.known {
		rec = jobstate.Record{ID: id, Service: service, Task: or(task, "_"), State: jobstate.Pending,
			Description: run.job.Description, IdentityKey: run.job.IdentityKey}
		if !m.Event.Time.IsZero() {
			rec.CreatedAt = m.Event.Time.UTC()
		}
	}
	run.cancel = run.known && rec.State == jobstate.Cancelled
	if run.known && !rec.State.Finished() && (rec.RequestSeq == m.Seq() || rec.RequestSeq == 0) {
		m.Attempt = rec.Attempts + 1
	} else {
		// A finished job delivered again (a replay, a requeue from the
		// DLQ, an ack lost after the end) runs afresh, counting from the
		// delivery; a done one is answered from the result cache and
		// keeps the attempts it took.
		rec.DoneAt = time.Time{}
	}
	rec.RequestSubject, rec.RequestSeq = m.Subject(), m.Seq()
	run.rec = rec
	return run, nil
}

// refused is the run of a job message that fails with err before
// anything is read or called.
func refused(service string, m *consume.Msg, err error) *jobRun {
	return &jobRun{parseErr: err, rec: jobstate.Record{ID: requestID(m), Service: service, Task: "_", State: jobstate.Pending,
		RequestSubject: m.Subject(), RequestSeq: m.Seq()}}
}

// validatedBefore reports whether the job message at seq was validated
// already, as its record rec proves: Enqueue recorded it pending after
// validating it, or an earlier delivery of it recorded an attempt, which
// only follows a successful parse.
func validatedBefore(rec jobstate.Record, known bool, seq uint64) bool {
	return known && rec.RequestSeq == seq && (rec.Attempts > 0 || rec.State == jobstate.Pending)
}

// noAnswerYet reports whether the job message at seq, delivered for the
// delivered-th time, can have no answer in the result cache: Enqueue
// recorded it pending and no attempt followed (an attempt is recorded
// before its call, and a requeue resets the request sequence). A
// redelivery looks in the cache anyway, in case its attempt's record was
// lost.
func noAnswerYet(rec jobstate.Record, known bool, seq, delivered uint64) bool {
	return known && rec.RequestSeq == seq && rec.State == jobstate.Pending && rec.Attempts == 0 && delivered == 1
}

// runJob calls ch with the job's payload, recording the attempt in run
// once the call is admitted and the answer's place once it is published.
func (d *Dispatcher) runJob(ctx context.Context, m *consume.Msg, ch *channel.Channel, run *jobRun) error {
	if run.cancel {
		m.Logger().Info("job cancelled: skipped", "job_id", run.rec.ID)
		return nil
	}
	if run.parseErr != nil {
		return run.parseErr
	}
	job := run.job
	if err := job.Check(); err != nil {
		return err // a job validated before (Decode) is checked again: it may have been published by hand
	}
	if wait := time.Until(job.ETA); wait > 0 {
		// Published by hand with a future eta rather than scheduled.
		d.metrics.deferred.WithLabelValues(ch.Name(), "eta").Inc()
		return consume.Defer(wait, "eta "+job.ETA.Format(time.RFC3339))
	}
	task := run.rec.Task
	tc := ch.Config().TaskFor(task)
	t := target{ch: ch, task: task, jobID: run.rec.ID, resultSubject: job.ResultSubject,
		req: call.Request{Path: or(job.Path, tc.Path), Method: strings.ToUpper(or(job.Method, tc.Method)), Response: tc.Response,
			IdempotencyKey: events.StableID(jobs.ConsumerName(ch.Name()), run.rec.ID)}}
	if p := bytes.TrimSpace(job.Payload); len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		t.req.Body = p
	}
	if t.resultSubject == "" {
		t.resultSubject = events.ResultSubject(ch.Name(), task)
	}
	t.fresh = run.fresh
	t.prior = published{Subject: run.rec.ResultSubject, Seq: run.rec.ResultSeq}
	var err error
	run.result, err = d.execute(ctx, m, t, func() (func(context.Context) error, error) { return d.startAttempt(ctx, m, run) })
	return err
}

// startedAfter is how long a call runs before its attempt is recorded
// (the started state): a call answered sooner goes from the record it
// found straight to the state it ended in, one write instead of two.
// A variable for tests.
var startedAfter = 50 * time.Millisecond

// startAttempt counts the attempt about to be made, and records it
// (started) if the call is still running after startedAfter, without
// waiting for JetStream: the write travels while the service is called,
// and execute waits for it before the answer is cached or published.
// The first attempt's write replaces the record's earlier revisions (the
// pending one Enqueue wrote), which keeps the final roll-up cheap; see
// jobstate.Store.PutAsync. A call answered within startedAfter leaves
// its attempt to the final write (done, failed or dead), which rolls the
// key up anyway; if the process dies during such a call, that attempt is
// not counted, and the redelivery still looks in the result cache (it is
// not its message's first delivery).
func (d *Dispatcher) startAttempt(ctx context.Context, m *consume.Msg, run *jobRun) (func(context.Context) error, error) {
	r := &run.rec
	first := r.Attempts == 0
	r.State, r.Attempts, r.StartedAt, r.ETA = jobstate.Started, m.Attempt, time.Now().UTC(), time.Time{}
	r.MaxAttempts = run.job.MaxAttempts(d.channels[r.Service].Config().Retry.Policy().MaxAttempts)
	run.started = true
	rec := *r // the write's own copy: the run's record changes once the call is over
	w := &startedWrite{}
	w.timer = time.AfterFunc(startedAfter, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.cancelled {
			return
		}
		w.pending, w.err = d.store.PutAsync(ctx, rec, first)
		if w.err == nil {
			d.metrics.job(rec.Service, jobstate.Started)
		}
		w.sent = true
	})
	return func(ctx context.Context) error {
		w.mu.Lock()
		w.cancelled = true
		sent, p, err := w.sent, w.pending, w.err
		w.mu.Unlock()
		w.timer.Stop()
		switch {
		case !sent:
			return nil // answered before anything was written
		case err == nil:
			_, err = p.Wait(ctx)
		}
		if err != nil {
			return fmt.Errorf("job %s: write state %s: %w", rec.ID, jobstate.Started, err)
		}
		return nil
	}, nil
}

// startedWrite is an attempt's started record, sent once its call has
// run for startedAfter.
type startedWrite struct {
	timer     *time.Timer
	mu        sync.Mutex
	cancelled bool // the call is over: too late to write
	sent      bool
	pending   *stream.Pending
	err       error
}

// retryPolicy is the service's policy with the job's own limits: its
// max_retries, and the waits of its retry_pattern (the service's backoff
// before the pattern's first try). A Retry-After longer than either wins.
func (r *jobRun) retryPolicy(service consume.Retry) consume.Retry {
	p := service
	p.MaxAttempts = r.job.MaxAttempts(service.MaxAttempts)
	p.Delay = func(_ *consume.Msg, err error, attempt int) (time.Duration, bool) {
		d, ok := r.job.RetryDelay(attempt)
		return max(d, events.RetryAfterOf(err)), ok
	}
	return p
}

// keepErr keeps the error the retry policy returned, which DeadLetter
// swallows once the dead letter is stored: it is a dead job's last error.
func (r *jobRun) keepErr(next consume.Handler) consume.Handler {
	return func(ctx context.Context, m *consume.Msg) error {
		r.err = next(ctx, m)
		return r.err
	}
}

// settleJob writes the state the delivery ended in. Only a failure to
// record done is returned (the message comes back, the result cache
// answers it, and the record is written then); other write failures are
// logged: the state is informational, the stream is the truth.
func (d *Dispatcher) settleJob(ctx context.Context, m *consume.Msg, run *jobRun, err error) error {
	r := &run.rec
	now := time.Now().UTC()
	_, deferred := consume.IsDeferred(err)
	switch {
	case err == nil && m.DeadLettered():
		r.State, r.DoneAt, r.LastError = jobstate.Dead, now, errText(run.err)
	case err == nil && run.result.Seq > 0:
		r.State, r.DoneAt, r.ResultSubject, r.ResultSeq = jobstate.Done, now, run.result.Subject, run.result.Seq
	case err == nil:
		return nil
	case deferred:
		if run.known || run.job.ETA.IsZero() {
			return err // waiting costs no attempt and changes nothing
		}
		r.State, r.ETA = jobstate.Scheduled, run.job.ETA.UTC()
	case ctx.Err() != nil:
		if !run.started {
			return err
		}
		r.State = jobstate.Pending // cut short by shutdown: back in the stream
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), jobWriteTimeout)
		defer cancel()
	default:
		r.State, r.LastError, r.ETA = jobstate.Failed, errText(err), now.Add(events.RetryAfterOf(err))
	}
	if werr := d.store.Put(ctx, *r); werr != nil {
		if r.State == jobstate.Done {
			if run.result.body != nil {
				d.keepAnswer(ctx, m, run.result)
			}
			return events.RetryAfter(fmt.Errorf("job %s done but not recorded: %w", r.ID, werr), time.Second)
		}
		d.log.Warn("job state not recorded", "job_id", r.ID, "state", string(r.State), "correlation_id", m.Event.Correlation(),
			"subject", m.Subject(), "stream_seq", m.Seq(), "error", werr.Error())
	} else {
		d.metrics.job(r.Service, r.State)
		if r.Graph != "" && r.State == jobstate.Done {
			// A graph node: its ready children start before the message
			// is acknowledged, so a crash here redelivers it and the
			// (idempotent) step runs again.
			if gerr := d.graphs.Done(ctx, *r, func() { _ = m.Raw.InProgress() }); gerr != nil {
				return events.RetryAfter(fmt.Errorf("job %s done, its graph not advanced: %w", r.ID, gerr), time.Second)
			}
		}
	}
	return err
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
