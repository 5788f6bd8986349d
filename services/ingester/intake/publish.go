package intake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable is wrapped when NATS is unreachable or JetStream did not
// acknowledge the publish in time: the sender should try again later.
var ErrUnavailable = errors.New("JetStream unavailable")

// ErrTooLarge is wrapped when NATS refuses a message over its max_payload.
var ErrTooLarge = errors.New("message larger than the NATS max_payload")

// Accepted is the answer to a stored event (schemas/ingest-accepted).
type Accepted struct {
	ID        string `json:"id"`        // the event's ce-id (and Nats-Msg-Id)
	Stream    string `json:"stream"`    // where it is stored
	Seq       uint64 `json:"seq"`       // its sequence there (the first copy's for a duplicate)
	Duplicate bool   `json:"duplicate"` // JetStream already held an event with this id
}

// What the JetStream context of Publishers (PublishJS) allows.
const (
	// maxPendingPublishes bounds the messages awaiting their PubAck at
	// once. nats.go's default, 4,000, would make request 4,001 wait and
	// then fail while JetStream is slow; the body budget bounds the
	// requests in flight instead, as it did for synchronous publishes.
	maxPendingPublishes = 1 << 16
	// pendingAckTimeout forgets a PubAck that never came (a message lost
	// in a leader election): the request gave up long before (its publish
	// timeout), and without it the entry would stay until a reconnect.
	pendingAckTimeout = time.Minute
)

// PublishJS is the JetStream context for Publishers on nc: asynchronous
// publishes with room for every request in flight, and no entry kept
// for a PubAck that never came.
func PublishJS(nc *nats.Conn) (jetstream.JetStream, error) {
	return jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxPendingPublishes), jetstream.WithPublishAsyncTimeout(pendingAckTimeout))
}

// Publisher stores events and waits for JetStream's acknowledgement.
type Publisher struct {
	Conn    *nats.Conn          // answers ErrUnavailable at once while disconnected; may be nil
	JS      jetstream.JetStream // where events are published (PublishJS)
	Timeout time.Duration       // the longest wait for the PubAck; default 5s
	Metrics *Metrics            // publish latency; may be nil
}

// Publish stores e on subject and returns what JetStream answered. The
// message's Nats-Msg-Id is e.ID, so the same event published twice within
// the stream's duplicate window is stored once (Duplicate is then true).
//
// While the connection is down it fails at once rather than let nats.go
// buffer the message for after the reconnect: an event answered 503 must
// not be stored behind the sender's back.
func (p *Publisher) Publish(ctx context.Context, subject string, e events.Event) (Accepted, error) {
	// The endpoints bound every name they put in a subject; this is the
	// last line: a subject over the limit would make the server close
	// the connection, so it is refused, never sent.
	if err := events.CheckSubject(subject); err != nil {
		return Accepted{}, fmt.Errorf("publish (ce-id %s): %w", e.ID, err)
	}
	if p.Conn != nil && !p.Conn.IsConnected() {
		return Accepted{}, fmt.Errorf("publish %s (ce-id %s): %w: not connected to NATS (%s)", subject, e.ID, ErrUnavailable, p.Conn.Status())
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	start := time.Now()
	// Sent asynchronously and waited for at once: the same retry loop and
	// deadline as stream.Publish within timeout, without a request (a
	// reply channel and a context per attempt) on nats.go's side. No
	// retry inside nats.go (WithRetryAttempts(0)): it would re-send the
	// message from a timer, possibly after the request was answered and
	// its body's pooled buffer reused; WaitTimeout retries within this
	// call instead.
	ack, err := stream.PublishAsync(ctx, p.JS, e.Msg(subject), jetstream.WithRetryAttempts(0)).WaitTimeout(ctx, timeout)
	p.Metrics.published(subject, ack, err, time.Since(start))
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return Accepted{}, fmt.Errorf("publish %s (ce-id %s, %d bytes): %w: %w", subject, e.ID, len(e.Data), ErrTooLarge, err)
	case err != nil:
		return Accepted{}, fmt.Errorf("publish %s (ce-id %s): %w: %w", subject, e.ID, ErrUnavailable, err)
	}
	return Accepted{ID: e.ID, Stream: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// appendJSON appends a as service.WriteJSON writes it, byte for byte
// (indented, HTML-safe, a final newline); ok is false when a string
// would need escaping (never for the ids and stream names the hub makes),
// and WriteJSON must write it. Every stored delivery is answered with
// one: encoding/json's reflection and indentation were ~4 % of the
// ingester's CPU.
func (a Accepted) appendJSON(b []byte) (_ []byte, ok bool) {
	if !jsonPlain(a.ID) || !jsonPlain(a.Stream) {
		return b, false
	}
	b = append(b, "{\n  \"id\": \""...)
	b = append(b, a.ID...)
	b = append(b, "\",\n  \"stream\": \""...)
	b = append(b, a.Stream...)
	b = append(b, "\",\n  \"seq\": "...)
	b = strconv.AppendUint(b, a.Seq, 10)
	b = append(b, ",\n  \"duplicate\": "...)
	b = strconv.AppendBool(b, a.Duplicate)
	return append(b, "\n}\n"...), true
}

// jsonPlain reports whether encoding/json writes s between quotes as is:
// printable ASCII but the quote, the backslash and the HTML characters it
// escapes.
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// Stored is the answer for an acknowledged event: status (202, or 200 for
// a GitHub ping) with the Accepted body.
func Stored(status int, a Accepted) Result {
	outcome := OutcomeStored
	if a.Duplicate {
		outcome = OutcomeDuplicate
	}
	return Result{Status: status, Outcome: outcome, Body: a, CorrelationID: a.ID,
		Attrs: []any{"stream", a.Stream, "stream_seq", a.Seq, "event_id", a.ID}}
}

// Failed is the answer for a publish that failed: 400 when the request
// made a subject the hub does not publish on, 413 when the message is
// over NATS's max_payload, else 503 (try again later).
func Failed(err error) Result {
	if errors.Is(err, events.ErrSubject) {
		res := Reject(http.StatusBadRequest, OutcomeBadRequest, "the request names a subject the hub cannot publish on (a name too long?)")
		res.Err = err
		return res
	}
	if errors.Is(err, ErrTooLarge) {
		res := Reject(http.StatusRequestEntityTooLarge, OutcomeTooLarge, "body is larger than the NATS server accepts (max_payload)")
		res.Err = err
		return res
	}
	res := Reject(http.StatusServiceUnavailable, OutcomeUnavailable, "the event could not be stored now; try again later")
	res.Err = err
	return res
}
