package ops

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter is one message of the DLQ stream: where it is stored, and
// what its headers say (consume.DeadLetterInfo, as the consume loop wrote
// them).
type DeadLetter struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"` // when the DLQ stored it
	Subject string    `json:"subject"`
	consume.DeadLetterInfo
	EventID string              `json:"event_id"`
	Headers map[string][]string `json:"headers,omitempty"`
	Data    []byte              `json:"data,omitempty"`
}

func deadLetter(seq uint64, t time.Time, subject string, h nats.Header, data []byte) DeadLetter {
	d := DeadLetter{Seq: seq, Time: t, Subject: subject, DeadLetterInfo: consume.ReadDeadLetterInfo(h),
		EventID: h.Get(events.HeaderID), Headers: h, Data: data}
	if route, orig, err := events.ParseDLQSubject(subject); err == nil {
		if d.Route == "" {
			d.Route = route
		}
		if d.OriginSubject == "" {
			d.OriginSubject = orig
		}
	}
	return d
}

// ListDLQ returns up to limit dead letters (0 = all), oldest first, of one
// route or of all ("").
func ListDLQ(ctx context.Context, js jetstream.JetStream, route string, limit int) ([]DeadLetter, error) {
	filter := "dlq.>"
	if route != "" {
		filter = events.DLQSubject(route, ">")
	}
	oc, err := js.OrderedConsumer(ctx, events.StreamDLQ, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", events.StreamDLQ, err)
	}
	var out []DeadLetter
	for limit <= 0 || len(out) < limit {
		batch, err := oc.FetchNoWait(200)
		if err != nil {
			return out, fmt.Errorf("read %s: %w", events.StreamDLQ, err)
		}
		n, last := 0, false
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return out, err
			}
			if limit <= 0 || len(out) < limit {
				out = append(out, deadLetter(meta.Sequence.Stream, meta.Timestamp, m.Subject(), m.Headers(), m.Data()))
			}
			last = meta.NumPending == 0
		}
		if n == 0 || last {
			break
		}
	}
	return out, nil
}

// GetDLQ returns one dead letter by its DLQ sequence.
func GetDLQ(ctx context.Context, js jetstream.JetStream, seq uint64) (DeadLetter, error) {
	s, err := js.Stream(ctx, events.StreamDLQ)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("stream %s: %w", events.StreamDLQ, err)
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("no dead letter with sequence %d: `hub dlq ls` lists them", seq)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	return deadLetter(m.Sequence, m.Time, m.Subject, m.Header, m.Data), nil
}

// Requeued is the outcome of requeueing one dead letter.
type Requeued struct {
	DLQSeq    uint64 `json:"dlq_seq"`
	Route     string `json:"route"`
	Subject   string `json:"subject"`
	EventID   string `json:"event_id"`
	Stream    string `json:"stream,omitempty"`
	Seq       uint64 `json:"seq,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"` // this dead letter had been requeued already
	DryRun    bool   `json:"dry_run,omitempty"`
}

// Requeue publishes each dead letter back to its origin subject, for its
// route only (other routes on that stream skip it: events.HeaderRequeuedFor),
// keeping its ce-id and body, then removes it from the DLQ. The new
// Nats-Msg-Id names the DLQ sequence, so the origin stream's
// de-duplication window does not drop the requeue as a repeat of the
// original, while requeueing the same dead letter twice stores it once.
func Requeue(ctx context.Context, js jetstream.JetStream, letters []DeadLetter, dryRun bool) ([]Requeued, error) {
	out := make([]Requeued, 0, len(letters))
	s, err := js.Stream(ctx, events.StreamDLQ)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.StreamDLQ, err)
	}
	for _, d := range letters {
		r := Requeued{DLQSeq: d.Seq, Route: d.Route, Subject: d.OriginSubject, EventID: d.EventID, DryRun: dryRun}
		if d.OriginSubject == "" {
			return out, fmt.Errorf("dead letter %d has no origin subject", d.Seq)
		}
		if err := events.CheckSubject(d.OriginSubject); err != nil {
			return out, fmt.Errorf("dead letter %d: its origin subject: %w", d.Seq, err)
		}
		if dryRun {
			out = append(out, r)
			continue
		}
		ack, err := stream.Publish(ctx, js, requeueMsg(d))
		if err != nil {
			return out, fmt.Errorf("requeue dead letter %d to %s: %w", d.Seq, d.OriginSubject, err)
		}
		r.Stream, r.Seq, r.Duplicate = ack.Stream, ack.Sequence, ack.Duplicate
		if err := s.DeleteMsg(ctx, d.Seq); err != nil && !isNoMessage(err) {
			return out, fmt.Errorf("requeued dead letter %d (now %s seq %d) but could not remove it from the DLQ: %w", d.Seq, ack.Stream, ack.Sequence, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func requeueMsg(d DeadLetter) *nats.Msg {
	m := nats.NewMsg(d.OriginSubject)
	for k, v := range d.Headers {
		if strings.HasPrefix(k, "Nats-") || consume.IsDeadLetterHeader(k) || k == events.HeaderRequeuedFrom || k == events.HeaderRequeuedFor {
			continue // JetStream directives, why it was dead-lettered, an earlier requeue's marks
		}
		m.Header[k] = v
	}
	m.Header.Set(events.HeaderRequeuedFrom, strconv.FormatUint(d.Seq, 10))
	if d.Route != "" {
		m.Header.Set(events.HeaderRequeuedFor, d.Route)
	}
	m.Header.Set(events.HeaderMsgID, fmt.Sprintf("requeue:%d:%s", d.Seq, d.EventID))
	m.Data = d.Data
	return m
}

// PurgeDLQ deletes every dead letter of route and returns how many.
func PurgeDLQ(ctx context.Context, js jetstream.JetStream, route string) (uint64, error) {
	if route == "" {
		return 0, errors.New("purge needs a route: hub dlq purge --route R")
	}
	s, err := js.Stream(ctx, events.StreamDLQ)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", events.StreamDLQ, err)
	}
	subject := events.DLQSubject(route, ">")
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return 0, fmt.Errorf("purge dead letters of %s: %w", route, err)
	}
	return n, nil
}

// isNoMessage reports an error saying the message is already gone.
func isNoMessage(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeMessageNotFound || apiErr.ErrorCode == 10057) {
		return true
	}
	// DeleteMsg flattens the server's error into text (nats.go v1.55), so
	// the code can only be read from it.
	return errors.Is(err, jetstream.ErrMsgNotFound) ||
		(errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) && strings.Contains(err.Error(), "err_code=10057"))
}
