package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// List returns the job records that match f, newest first (`hub jobs ls
// [--state S] [--service X]`).
func List(ctx context.Context, js jetstream.JetStream, f jobstate.Filter) ([]jobstate.Record, error) {
	if f.State != "" && !f.State.Valid() {
		return nil, fmt.Errorf("unknown state %q (one of %v)", f.State, jobstate.States)
	}
	s, err := jobstate.Bind(ctx, js)
	if err != nil {
		return nil, err
	}
	return s.List(ctx, f)
}

// Get returns one job's record (`hub jobs show ID`).
func Get(ctx context.Context, js jetstream.JetStream, id string) (jobstate.Record, error) {
	s, err := jobstate.Bind(ctx, js)
	if err != nil {
		return jobstate.Record{}, err
	}
	return s.Get(ctx, id)
}

// Cancel cancels one job that is not finished: see jobstate.Store.Cancel
// (graph.Cancel cancels a whole graph).
func Cancel(ctx context.Context, js jetstream.JetStream, id string) (jobstate.Record, error) {
	s, err := jobstate.Bind(ctx, js)
	if err != nil {
		return jobstate.Record{}, err
	}
	return s.Cancel(ctx, id)
}

// Requeued says what Requeue did.
type Requeued struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Seq     uint64 `json:"seq"` // the new job message's sequence in JOBS
}

// Requeue runs a finished job (done, dead or cancelled) again (`hub jobs requeue ID`):
// its message is published again from JOBS with the same ce-id, so the
// call carries the same Idempotency-Key and a job that was done is
// answered from the result cache while the cache holds it. The record
// goes back to pending with its attempts reset. A dead job's dead letter
// stays in the DLQ (`hub dlq` shows it).
func Requeue(ctx context.Context, js jetstream.JetStream, id string) (Requeued, error) {
	store, err := jobstate.Bind(ctx, js)
	if err != nil {
		return Requeued{}, err
	}
	rec, err := store.Get(ctx, id)
	if err != nil {
		return Requeued{}, err
	}
	if !rec.State.Finished() {
		return Requeued{}, fmt.Errorf("job %s is %s: only a done, dead or cancelled job can be requeued", id, rec.State)
	}
	if rec.Graph != "" && rec.State != jobstate.Dead {
		// Its children may have started with its result; a done node stays done.
		return Requeued{}, fmt.Errorf("job %s is node %s of graph %s and %s: only a dead node can be requeued", id, rec.Node, rec.Graph, rec.State)
	}
	if rec.RequestSeq == 0 {
		return Requeued{}, fmt.Errorf("job %s: its record names no message in %s", id, events.StreamJobs)
	}
	s, err := js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return Requeued{}, fmt.Errorf("stream %s: %w", events.StreamJobs, err)
	}
	orig, err := s.GetMsg(ctx, rec.RequestSeq)
	if err != nil {
		return Requeued{}, fmt.Errorf("job %s: message %d of %s: %w (expired with the stream's max_age?)", id, rec.RequestSeq, events.StreamJobs, err)
	}
	// The record goes back to pending before the message is published: a
	// dispatcher may pick the message up at once, and its writes must win.
	before := rec
	rec.State, rec.Attempts, rec.RequestSeq = jobstate.Pending, 0, 0
	rec.DoneAt, rec.StartedAt, rec.ETA = time.Time{}, time.Time{}, time.Time{}
	if before.State != jobstate.Done {
		// A done job keeps its result's place: the dispatcher answers the
		// requeued job from it (RESULTS holds jobs' answers).
		rec.ResultSubject, rec.ResultSeq = "", 0
	}
	if err := store.Put(ctx, rec); err != nil {
		return Requeued{}, err
	}
	ack, err := stream.Publish(ctx, js, RequeueMsg(orig, rec.ID, rec.Service, time.Now()))
	if err != nil {
		if rerr := store.Put(ctx, before); rerr != nil {
			err = errors.Join(err, fmt.Errorf("and its record could not be put back to %s: %w", before.State, rerr))
		}
		return Requeued{}, fmt.Errorf("job %s: requeue to %s: %w", id, orig.Subject, err)
	}
	return Requeued{ID: id, Subject: orig.Subject, Seq: ack.Sequence}, nil
}

// RequeueMsg is orig, the message of job (or graph) id of service, to
// publish again: its headers but JetStream's and the scheduler's, for
// the service's job consumer only, with a fresh Nats-Msg-Id and without
// Enqueue's mark (jobstate.HeaderEnqueued): its delivery reads the record.
func RequeueMsg(orig *jetstream.RawStreamMsg, id, service string, now time.Time) *nats.Msg {
	m := nats.NewMsg(orig.Subject)
	for k, v := range orig.Header {
		if strings.HasPrefix(k, "Nats-") || k == events.HeaderRequeuedFrom || k == events.HeaderRequeuedFor || k == jobstate.HeaderEnqueued {
			continue // JetStream directives, the scheduler's and Enqueue's marks are not the job's
		}
		m.Header[k] = append([]string(nil), v...)
	}
	// Only the service's job consumer runs it again; other routes on JOBS skip it.
	m.Header.Set(events.HeaderRequeuedFor, ConsumerName(service))
	m.Header.Set(events.HeaderMsgID, fmt.Sprintf("requeue:%s:%d", id, now.UnixNano()))
	m.Data = orig.Data
	return m
}
