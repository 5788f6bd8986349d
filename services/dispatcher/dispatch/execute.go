package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/services/dispatcher/call"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/nats-io/nats.go/jetstream"
)

// ResultType is the ce-type of a result message.
const ResultType = "dev.pulsehub.result"

// Result is the body of a result message (schemas/result.schema.json).
type Result struct {
	Service        string          `json:"service"`
	Task           string          `json:"task"`
	RequestID      string          `json:"request_id"`       // the request's ce-id
	JobID          string          `json:"job_id,omitempty"` // when the request was a job
	IdempotencyKey string          `json:"idempotency_key"`
	Status         int             `json:"status"`
	Request        json.RawMessage `json:"request,omitempty"`  // the body sent
	Response       json.RawMessage `json:"response,omitempty"` // the answer: its JSON, or its text as a string
	DurationMS     float64         `json:"duration_ms"`
	Cached         bool            `json:"cached"`
}

// target is one call to make, built from a routed event or a job.
type target struct {
	ch            *channel.Channel
	task          string
	req           call.Request // Path, Method, Body, ContentType, Response, IdempotencyKey
	resultSubject string
	jobID         string
	fresh         bool // no answer can be cached yet: the job's record proves no attempt was made
	// prior is where the job's record says an earlier delivery published
	// its answer (a done job delivered again): jobs keep their answers
	// there, in RESULTS, rather than in the cache bucket.
	prior published
}

// published is where a result went.
type published struct {
	Subject string
	Seq     uint64
	key     string // a job's answer: its Idempotency-Key and encoded result,
	body    []byte // for the cache if its record cannot be written (keepAnswer)
}

// requestID is the message's ce-id, or for a message published without
// one, its place in its stream.
func requestID(m *consume.Msg) string {
	if m.Event.ID != "" {
		return m.Event.ID
	}
	return m.Stream() + "-" + strconv.FormatUint(m.Seq(), 10)
}

// execute makes t's call, or answers it from the result cache, and
// publishes the result. start, when given, runs once the call is admitted
// and before it is made (jobs record their attempt there); it may leave
// its write in flight and return a wait, which execute calls once the
// call is over, before the answer is cached or published.
func (d *Dispatcher) execute(ctx context.Context, m *consume.Msg, t target, start func() (func(context.Context) error, error)) (pub published, err error) {
	svc := t.ch.Name()
	sm := d.metrics.of[svc]
	ctx, span := callSpan(ctx, m, t)
	defer func() { endCallSpan(span, pub, err) }()
	t.req.CorrelationID, t.req.TraceParent = m.Event.Correlation(), tracing.TraceParent(ctx, m.Event.TraceParent)
	if body, ok := d.priorResult(ctx, t); ok {
		sm.cacheHit.Inc()
		span.SetAttributes(attrCacheHit.Bool(true))
		return d.publishCached(ctx, m, t, body)
	}
	if t.fresh {
		d.metrics.cacheSkipped(sm, svc).Inc()
	} else {
		cached, hit, err := d.cache.Get(ctx, t.req.IdempotencyKey)
		if err != nil {
			return published{}, events.Transient(err)
		}
		span.SetAttributes(attrCacheHit.Bool(hit))
		if hit {
			sm.cacheHit.Inc()
			return d.publishCached(ctx, m, t, cached)
		}
		sm.cacheMiss.Inc()
	}
	ticket, err := t.ch.Admit(ctx)
	if err != nil {
		var busy *channel.Busy
		if errors.As(err, &busy) {
			d.metrics.deferred.WithLabelValues(svc, busy.Reason).Inc()
			return published{}, consume.Defer(busy.Delay, busy.Error())
		}
		return published{}, err
	}
	var started func(context.Context) error
	if start != nil {
		if started, err = start(); err != nil {
			ticket.Cancel()
			return published{}, err
		}
	}
	sm.inFlight.Inc()
	ans, err := ticket.Do(ctx, t.req)
	span.SetAttributes(attrStatus.Int(ans.Status))
	sm.inFlight.Dec()
	d.metrics.observeCall(svc, ans, err)
	if started != nil {
		// Waited for even when shutdown cut the call short: the write was
		// sent, and the state written next must follow it.
		if serr := started(context.WithoutCancel(ctx)); serr != nil {
			// The state is informational; the attempt is counted again
			// when the delivery's final state is written.
			m.Logger().Warn("attempt not recorded", "job_id", t.jobID, "error", serr.Error())
		}
	}
	if err != nil {
		return published{}, fmt.Errorf("%s %s seq %d: %w", m.Route, m.Subject(), m.Seq(), err)
	}
	return d.answer(ctx, m, t, ans)
}

// answer caches a successful answer under its Idempotency-Key and
// publishes it. The cache write goes out first and travels while the
// result is published; a redelivery that finds no cache entry (its write
// failed) calls the service again.
//
// A job's answer is not written to the cache: its record, written done
// next, names the result's place in RESULTS, where a later delivery of
// the job finds it (priorResult). Only an answer that could not be
// published goes to the cache, so that the call is not paid twice.
func (d *Dispatcher) answer(ctx context.Context, m *consume.Msg, t target, ans call.Answer) (published, error) {
	res := Result{Service: t.ch.Name(), Task: t.task, RequestID: requestID(m), JobID: t.jobID, IdempotencyKey: t.req.IdempotencyKey,
		Status: ans.Status, Request: asJSON(t.req.Body), Response: ans.Response, DurationMS: float64(ans.Duration.Microseconds()) / 1000}
	body, err := json.Marshal(res)
	if err != nil {
		return published{}, events.Permanentf("encode result: %w", err)
	}
	if t.jobID != "" {
		pub, err := d.publish(ctx, m, t, body)
		pub.key, pub.body = t.req.IdempotencyKey, body
		if err != nil {
			d.keepAnswer(ctx, m, pub)
		}
		return pub, err
	}
	cached, cerr := d.cache.PutAsync(ctx, t.req.IdempotencyKey, body)
	pub, err := d.publish(ctx, m, t, body)
	if cerr == nil {
		_, cerr = cached.Wait(ctx)
	}
	if cerr != nil {
		m.Logger().Warn("answer not cached: a redelivery would call the service again", "error", cerr.Error())
	}
	return pub, err
}

// keepAnswer stores a job's answer in the result cache when its record
// cannot say where it is (its publish or its done write failed), so
// that the redelivery does not pay for the call again.
func (d *Dispatcher) keepAnswer(ctx context.Context, m *consume.Msg, pub published) {
	if cerr := d.cache.Put(context.WithoutCancel(ctx), pub.key, pub.body); cerr != nil {
		m.Logger().Warn("answer not cached: a redelivery would call the service again", "error", cerr.Error())
	}
}

// priorResult is the answer an earlier delivery of t's job published,
// read from RESULTS at the place the job's record names, if it is still
// there, is that job's (its Nats-Msg-Id names the Idempotency-Key) and
// is younger than the result cache's TTL.
func (d *Dispatcher) priorResult(ctx context.Context, t target) ([]byte, bool) {
	if t.prior.Seq == 0 || t.jobID == "" {
		return nil, false
	}
	s, err := d.js.Stream(ctx, events.StreamResults)
	if err != nil {
		return nil, false
	}
	msg, err := s.GetMsg(ctx, t.prior.Seq)
	if err != nil || msg.Subject != t.prior.Subject || msg.Header.Get(events.HeaderMsgID) != "result:"+t.req.IdempotencyKey ||
		time.Since(msg.Time) > d.cfg.ResultTTL {
		return nil, false
	}
	return msg.Data, true
}

// publishCached publishes a cached answer as this request's result.
func (d *Dispatcher) publishCached(ctx context.Context, m *consume.Msg, t target, cached []byte) (published, error) {
	var res Result
	if err := json.Unmarshal(cached, &res); err != nil {
		return published{}, events.Permanentf("result cache entry %s is not a result: %w", t.req.IdempotencyKey, err)
	}
	res.RequestID, res.JobID, res.Cached, res.DurationMS = requestID(m), t.jobID, true, 0
	body, err := json.Marshal(res)
	if err != nil {
		return published{}, events.Permanentf("encode result: %w", err)
	}
	m.Logger().Info("answered from the result cache", "target", t.ch.Name(), "idempotency_key", t.req.IdempotencyKey)
	return d.publish(ctx, m, t, body)
}

// publish stores the result on its subject, derived from the request
// (correlation id and trace context kept, the request's ce-id as cause).
// Its Nats-Msg-Id names the Idempotency-Key, so a redelivery that gets
// here again within RESULTS' duplicate window stores it once.
func (d *Dispatcher) publish(ctx context.Context, m *consume.Msg, t target, body []byte) (published, error) {
	// Checked for jobs before the call and for routes at start; this is
	// the last line before anything is sent: a result goes to RESULTS only.
	if err := events.ValidateResultSubject(t.resultSubject); err != nil {
		return published{}, events.Permanentf("publish result of %s seq %d: %w", m.Subject(), m.Seq(), err)
	}
	ev := m.Event.Derive("/dispatcher/"+t.ch.Name(), ResultType, body)
	ev.Subject = m.Event.Subject
	msg := ev.Msg(t.resultSubject)
	msg.Header.Set(events.HeaderMsgID, "result:"+t.req.IdempotencyKey)
	// Sent asynchronously and waited for at once: a job's done record,
	// written next, names the result's sequence, so nothing can be sent
	// between them (see docs/performance.md, "Jobs vs River").
	ack, err := stream.PublishAsync(ctx, d.js, msg).Wait(ctx)
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		return published{}, events.Permanentf("publish result of %s seq %d: no stream stores %s", m.Subject(), m.Seq(), t.resultSubject)
	}
	if err != nil {
		return published{}, events.Transient(fmt.Errorf("publish result of %s seq %d on %s: %w", m.Subject(), m.Seq(), t.resultSubject, err))
	}
	return published{Subject: t.resultSubject, Seq: ack.Sequence}, nil
}

// asJSON is a request body as a JSON value: itself when it is JSON, else
// a string; nil when empty.
func asJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}
