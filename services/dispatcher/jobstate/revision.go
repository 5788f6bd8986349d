package jobstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Job graphs (package graph) decide from stored records alone whether a
// node may start, and change a node's record only from the revision they
// read, so two dispatchers, or a dispatcher and an operator, never both
// act on one state. These reads go to the bucket's stream leader: a
// direct get may be answered by a replica that has not stored the latest
// write yet, and a node whose last parent's done was missed would wait
// for ever.

// ErrChanged is returned by Update when the record is no longer at the
// revision it was read at.
var ErrChanged = errors.New("job record changed since it was read")

// GetLatest returns the record of id and its revision, read from the
// bucket's stream leader.
func (s *Store) GetLatest(ctx context.Context, id string) (Record, uint64, error) {
	if !validKey(id) {
		return Record{}, 0, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	req, _ := json.Marshal(map[string]string{"last_by_subj": s.prefix + id})
	resp, err := s.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+events.BucketJobs, req)
	if err != nil {
		return Record{}, 0, fmt.Errorf("job %s: read: %w", id, err)
	}
	var r struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *struct {
			Code    int    `json:"code"`
			ErrCode int    `json:"err_code"`
			Desc    string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return Record{}, 0, fmt.Errorf("job %s: read: %w", id, err)
	}
	switch {
	case r.Error != nil && r.Error.ErrCode == int(jetstream.JSErrCodeMessageNotFound):
		return Record{}, 0, fmt.Errorf("job %s: %w", id, ErrNotFound)
	case r.Error != nil:
		return Record{}, 0, fmt.Errorf("job %s: read: %s (%d)", id, r.Error.Desc, r.Error.Code)
	case r.Message == nil:
		return Record{}, 0, fmt.Errorf("job %s: read: %w", id, jetstream.ErrInvalidJetStreamResponse)
	}
	if len(r.Message.Hdrs) > 0 {
		if h, err := nats.DecodeHeadersMsg(r.Message.Hdrs); err == nil && (h.Get("KV-Operation") != "" || h.Get("Nats-Marker-Reason") != "") {
			return Record{}, r.Message.Seq, fmt.Errorf("job %s: %w", id, ErrNotFound) // deleted or expired
		}
	}
	var rec Record
	if err := json.Unmarshal(r.Message.Data, &rec); err != nil {
		return Record{}, 0, fmt.Errorf("job %s: stored value is not a job state: %w", id, err)
	}
	return rec, r.Message.Seq, nil
}

// Update writes r only if the record is still at revision rev (0: only if
// there is none), else it returns ErrChanged.
func (s *Store) Update(ctx context.Context, r Record, rev uint64) error {
	m, opts, err := s.msg(r, false)
	if err != nil {
		return err
	}
	m.Header.Del(jetstream.MsgRollup) // a roll-up and an expected revision do not mix; History bounds the log
	opts = append(opts, jetstream.WithExpectLastSequencePerSubject(rev))
	if _, err := stream.Publish(ctx, s.js, m, opts...); err != nil {
		if isWrongSequence(err) {
			return fmt.Errorf("job %s: %w", r.ID, ErrChanged)
		}
		return fmt.Errorf("job %s: write state %s: %w", r.ID, r.State, err)
	}
	return nil
}

// ErrFinished is returned by Cancel for a job that is done, dead or
// cancelled already.
var ErrFinished = errors.New("job is finished: nothing to cancel")

// HeaderEnqueued marks a job message whose record Enqueue wrote pending
// (jobs.Client.Enqueue, for an immediate job only): on its first delivery
// by its service's consumer, the dispatcher takes the record from the
// message instead of reading it (see dispatch's loadRun for when it trusts
// the mark). A fired schedule, a graph node's job, a requeue and a parked
// copy carry no mark, so their records are read.
const HeaderEnqueued = "Pulsehub-Job-Enqueued"

// ParkedFor is the events.HeaderRequeuedFor of a cancelled job's parked
// message (see Cancel): it names no consumer (a consumer's name has no
// space), so every consume loop acknowledges it without running it.
const ParkedFor = "nobody (a cancelled job's message, kept for a requeue)"

// Cancel marks job id cancelled unless it is finished (`hub jobs cancel`,
// the console, a graph's cancel): read from the leader and written only
// from the revision read, retried when a worker changed the record
// meanwhile. A job waiting (pending, scheduled, failed, a graph node's
// wait_dependencies) never runs; the dispatcher acknowledges its message
// without a call when it comes. A job being called finishes its call and
// ends done; a graph node's children are not started.
//
// A pending job whose message carries Enqueue's mark (HeaderEnqueued)
// would not have its record read on its first delivery, so Cancel also
// withdraws the message: it first stores a parked copy of it in JOBS
// (ParkedFor: no consumer runs it), then writes the cancelled record
// naming the copy as its request (so Requeue finds the job), from the
// revision read, then deletes the original. A message the service's
// consumer has delivered already stays: it is a worker's, as a job whose
// record a worker read before a cancel is (it ends as its call does),
// and any later delivery of it reads the record. One pulled between
// that check and the delete is the worker's too, without its message:
// if its call fails, the job stays failed (cancel it again).
func (s *Store) Cancel(ctx context.Context, id string) (Record, error) {
	for range 10 {
		r, rev, err := s.GetLatest(ctx, id)
		if err != nil {
			return Record{}, err
		}
		if r.State.Finished() {
			return r, fmt.Errorf("job %s is %s: %w", id, r.State, ErrFinished)
		}
		withdraw, err := s.park(ctx, &r)
		if err != nil {
			return Record{}, err
		}
		r.State, r.DoneAt, r.LastError = Cancelled, time.Now().UTC(), "cancelled by an operator"
		err = s.Update(ctx, r, rev)
		if err == nil {
			if err := withdraw.do(ctx); err != nil {
				return r, fmt.Errorf("job %s is cancelled, but its message %d stays in %s and a dispatcher may still run it: %w",
					id, withdraw.seq, events.StreamJobs, err)
			}
			return r, nil
		}
		if !errors.Is(err, ErrChanged) {
			return Record{}, err
		}
	}
	return Record{}, fmt.Errorf("job %s: its record kept changing; try again", id)
}

// ConsumerName is the durable consumer of service's jobs (jobs.ConsumerName).
func ConsumerName(service string) string { return "jobs-" + service }

// withdrawal deletes a cancelled job's original message; a no-op for a
// message Cancel leaves in place.
type withdrawal struct {
	stream jetstream.Stream
	seq    uint64
}

func (w withdrawal) do(ctx context.Context) error {
	if w.stream == nil {
		return nil
	}
	if err := w.stream.DeleteMsg(ctx, w.seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err
	}
	return nil
}

// park stores the parked copy of r's message when r is pending and its
// message carries Enqueue's mark, and points r's request at it; the
// returned withdrawal deletes the original once the cancelled record is
// written. The copy's Nats-Msg-Id names the job, so a retried Cancel
// stores it once (a duplicate's acknowledgement names the first copy).
func (s *Store) park(ctx context.Context, r *Record) (withdrawal, error) {
	if r.State != Pending || r.RequestSeq == 0 {
		return withdrawal{}, nil
	}
	st, err := s.js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return withdrawal{}, fmt.Errorf("job %s: stream %s: %w", r.ID, events.StreamJobs, err)
	}
	orig, err := st.GetMsg(ctx, r.RequestSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return withdrawal{}, nil // expired or withdrawn already: nothing can deliver it
	}
	if err != nil {
		return withdrawal{}, fmt.Errorf("job %s: read its message %d: %w", r.ID, r.RequestSeq, err)
	}
	if orig.Header.Get(HeaderEnqueued) == "" {
		return withdrawal{}, nil // its delivery reads the record
	}
	// A message the service's consumer has delivered already is a
	// worker's: any later delivery of it reads the record, and deleting
	// it under a call that then fails would leave the job failed with
	// nothing to retry it.
	c, err := s.js.Consumer(ctx, events.StreamJobs, ConsumerName(r.Service))
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return withdrawal{}, fmt.Errorf("job %s: consumer %s: %w", r.ID, ConsumerName(r.Service), err)
	case c.CachedInfo().Delivered.Stream >= r.RequestSeq:
		return withdrawal{}, nil
	}
	m := nats.NewMsg(orig.Subject)
	for k, v := range orig.Header {
		if strings.HasPrefix(k, "Nats-") || k == HeaderEnqueued || k == events.HeaderRequeuedFrom || k == events.HeaderRequeuedFor {
			continue
		}
		m.Header[k] = append([]string(nil), v...)
	}
	m.Header.Set(events.HeaderRequeuedFor, ParkedFor)
	m.Header.Set(events.HeaderMsgID, "cancelled:"+r.ID)
	m.Data = orig.Data
	ack, err := stream.Publish(ctx, s.js, m)
	if err != nil {
		return withdrawal{}, fmt.Errorf("job %s: park its message: %w", r.ID, err)
	}
	w := withdrawal{stream: st, seq: r.RequestSeq}
	r.RequestSubject, r.RequestSeq = orig.Subject, ack.Sequence
	return w, nil
}

// CreateAsync sends r as the first record of its key without waiting;
// the future fails with a wrong-last-sequence error (IsExists) when the
// key has a record already.
func (s *Store) CreateAsync(r Record) (jetstream.PubAckFuture, error) {
	m, opts, err := s.msg(r, false)
	if err != nil {
		return nil, err
	}
	m.Header.Del(jetstream.MsgRollup)
	opts = append(opts, jetstream.WithExpectLastSequencePerSubject(0))
	f, err := s.js.PublishMsgAsync(m, opts...)
	if err != nil {
		return nil, fmt.Errorf("job %s: create record: %w", r.ID, err)
	}
	return f, nil
}

// IsExists reports whether err says a key already had a record (from
// CreateAsync's future, or Update).
func IsExists(err error) bool { return isWrongSequence(err) || errors.Is(err, ErrChanged) }

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
