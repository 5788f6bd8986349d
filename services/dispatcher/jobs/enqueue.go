package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
)

// Source and Type of the envelope of an enqueued job.
const (
	Source = "/hub/jobs"
	Type   = "dev.pulsehub.job"
)

// Client enqueues jobs. It reads the JOBS stream's settings and binds the
// jobs bucket once.
type Client struct {
	js     jetstream.JetStream
	store  *jobstate.Store // nil until a dispatcher created the bucket: records then start at pick-up
	maxAge time.Duration   // JOBS max_age: a schedule further ahead would be dropped before it fires
	Source string          // ce-source of the jobs; default Source
}

// NewClient returns a client on js. The JOBS stream must exist.
func NewClient(ctx context.Context, js jetstream.JetStream) (*Client, error) {
	s, err := js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.StreamJobs, err)
	}
	c := &Client{js: js, maxAge: s.CachedInfo().Config.MaxAge, Source: Source}
	c.store, err = jobstate.Bind(ctx, js)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		c.store, err = nil, nil
	}
	return c, err
}

// Enqueued says what Enqueue did.
type Enqueued struct {
	ID        string    `json:"id"`                  // the job's id (its ce-id); for a duplicate, the first job's when still known
	Subject   string    `json:"subject"`             // where it was published
	Seq       uint64    `json:"seq"`                 // its sequence in JOBS (for a duplicate, the first job's)
	Duplicate bool      `json:"duplicate,omitempty"` // the identity key was seen within the duplicate window: nothing was enqueued
	ETA       time.Time `json:"eta,omitzero"`        // when it will run, for a scheduled job
}

// Enqueue publishes a job for service and task; see Client.Enqueue.
func Enqueue(ctx context.Context, js jetstream.JetStream, service, task string, job Job) (id string, duplicate bool, err error) {
	c, err := NewClient(ctx, js)
	if err != nil {
		return "", false, err
	}
	e, err := c.Enqueue(ctx, service, task, job)
	return e.ID, e.Duplicate, err
}

// Enqueue publishes job on jobs.<service>.<task> and records it pending,
// or, when its eta is in the future, as a JetStream message schedule on
// schedule.jobs.<service>.<task>.<id> that the server publishes to
// jobs.<service>.<task> at the eta (rounded up to the second), recording
// it scheduled.
//
// Identity key: the job is published with Nats-Msg-Id = identity_key, so
// JOBS drops a second job with the same key for its duplicate window
// (streams.limits.JOBS.duplicate_window, default 24h) counted from the
// first one's publish — whatever state the first is in by then. A job
// still pending after the window does not block a new one, and a finished
// one blocks it until the window ends.
func (c *Client) Enqueue(ctx context.Context, service, task string, job Job) (Enqueued, error) {
	if !channel.ValidName(service) || !channel.ValidName(task) {
		return Enqueued{}, fmt.Errorf("enqueue %.64q/%.64q: service and task are 1-%d letters, digits, '-' or '_'", service, task, channel.MaxNameLen)
	}
	if service == GraphService {
		return Enqueued{}, fmt.Errorf("enqueue %s.%s: service %q is reserved for job graphs (EnqueueGraph)", service, task, GraphService)
	}
	if err := job.Check(); err != nil {
		return Enqueued{}, fmt.Errorf("enqueue %s.%s: %w", service, task, err)
	}
	data, err := json.Marshal(job)
	if err != nil {
		return Enqueued{}, fmt.Errorf("enqueue %s.%s: %w", service, task, err)
	}
	if err := schemas.Validate("job", data); err != nil {
		return Enqueued{}, fmt.Errorf("enqueue %s.%s: %w", service, task, err)
	}
	ev := events.New(ctx, c.Source, Type, data)
	out, err := c.publish(ctx, ev, service, task, job, c.store != nil)
	if err != nil || out.Duplicate {
		return out, err
	}
	scheduled := !out.ETA.IsZero()
	target := events.JobSubject(service, task)
	// The record is what the dispatcher makes of the message on its first
	// delivery when it trusts the mark (jobstate.HeaderEnqueued) instead of
	// reading it: created_at is the event's time.
	rec := jobstate.Record{ID: ev.ID, Service: service, Task: task, State: jobstate.Pending, Description: job.Description,
		IdentityKey: job.IdentityKey, RequestSubject: target, RequestSeq: out.Seq, CreatedAt: ev.Time.UTC()}
	if scheduled {
		rec.State, rec.ETA, rec.RequestSeq = jobstate.Scheduled, out.ETA.UTC(), 0
	}
	if c.store != nil {
		if _, err := c.store.Create(ctx, rec); err != nil {
			return out, fmt.Errorf("enqueued %s seq %d, but: %w", out.Subject, out.Seq, err)
		}
	}
	return out, nil
}

// Publish publishes ev, whose data is job's body, for service and task:
// on jobs.<service>.<task>, or as a schedule for the job's eta, with the
// job's identity_key (else the event's id) as Nats-Msg-Id. It writes no
// record. Enqueue and the graph engine (a node's job) use it.
func (c *Client) Publish(ctx context.Context, ev events.Event, service, task string, job Job) (Enqueued, error) {
	return c.publish(ctx, ev, service, task, job, false)
}

// publish is Publish; with mark, an immediate job's message carries
// jobstate.HeaderEnqueued: Enqueue records it pending, validated, before
// returning (a schedule never carries it: the job it fires is recorded
// scheduled).
func (c *Client) publish(ctx context.Context, ev events.Event, service, task string, job Job, mark bool) (Enqueued, error) {
	now := time.Now()
	eta := ceilSecond(job.ETA)
	scheduled := eta.After(now)
	if scheduled && c.maxAge > 0 && eta.Sub(now) > c.maxAge {
		return Enqueued{}, events.Permanentf("enqueue %s.%s: eta %s is further ahead than stream %s keeps messages (max_age %s)",
			service, task, eta.Format(time.RFC3339), events.StreamJobs, c.maxAge)
	}
	target := events.JobSubject(service, task)
	subject, opts := target, []jetstream.PublishOpt(nil)
	if scheduled {
		subject = events.JobScheduleSubject(service, task, ev.ID)
		opts = append(opts, jetstream.WithScheduleAt(eta), jetstream.WithScheduleTarget(target))
	}
	if err := events.CheckSubject(subject); err != nil {
		return Enqueued{}, fmt.Errorf("enqueue %s.%s: %w", service, task, err)
	}
	msg := ev.Msg(subject)
	if job.IdentityKey != "" {
		msg.Header.Set(events.HeaderMsgID, job.IdentityKey)
	}
	if mark && !scheduled {
		msg.Header.Set(jobstate.HeaderEnqueued, "1")
	}
	ack, err := stream.Publish(ctx, c.js, msg, opts...)
	if err != nil {
		return Enqueued{}, fmt.Errorf("enqueue %s: %w", subject, err)
	}
	out := Enqueued{ID: ev.ID, Subject: subject, Seq: ack.Sequence}
	if scheduled {
		out.ETA = eta
	}
	if ack.Duplicate {
		out.ID, out.Duplicate = c.firstID(ctx, ack.Sequence), true
	}
	return out, nil
}

// firstID reads the id of the job a duplicate repeated; "" once the
// first is gone (a fired schedule is removed).
func (c *Client) firstID(ctx context.Context, seq uint64) string {
	s, err := c.js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return ""
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return ""
	}
	return events.FromMsg(m.Header, m.Data).ID
}

// ceilSecond rounds t up to a whole second: a schedule fires at whole
// seconds, and a job must never run before its eta.
func ceilSecond(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	if tr := t.Truncate(time.Second); !tr.Equal(t) {
		return tr.Add(time.Second)
	}
	return t
}
