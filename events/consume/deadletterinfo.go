package consume

import (
	"slices"
	"strconv"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/nats-io/nats.go"
)

// KindExhausted is the dead-letter kind (header events.HeaderDLQKind) of
// a message whose route ran out of attempts. The other kinds are the
// failure's own: events.KindPermanent and events.KindTransient, as their
// String spells them.
const KindExhausted = "exhausted"

// DeadLetterHeaders are the headers DeadLetterMsg adds to a dead letter,
// each one always (schemas/dlq.schema.json requires them all, and
// docs/operations.md names them).
var DeadLetterHeaders = []string{
	events.HeaderDLQReason, events.HeaderDLQKind, events.HeaderDLQAttempts, events.HeaderDLQTime,
	events.HeaderOriginStream, events.HeaderOriginSeq, events.HeaderOriginSubject, events.HeaderRoute,
}

// IsDeadLetterHeader reports whether name is one of DeadLetterHeaders: a
// header that says why a message is in the DLQ, not part of the message.
func IsDeadLetterHeader(name string) bool { return slices.Contains(DeadLetterHeaders, name) }

// DeadLetterInfo is what a dead letter's headers say about it. DeadLetterMsg
// writes them from it (SetHeaders) and the operator commands (`hub dlq`)
// read them into it (ReadDeadLetterInfo), so the two cannot disagree.
type DeadLetterInfo struct {
	Reason        string    `json:"reason"`            // the error, on one line, at most 4 KiB
	Kind          string    `json:"kind"`              // permanent, transient or KindExhausted
	Attempts      int       `json:"attempts"`          // deliveries of the original attempted
	Time          time.Time `json:"dlq_time,omitzero"` // when it was dead-lettered (whole seconds, UTC)
	OriginStream  string    `json:"origin_stream"`     // where the original is stored
	OriginSeq     uint64    `json:"origin_seq"`        // its sequence there
	OriginSubject string    `json:"origin_subject"`
	Route         string    `json:"route"` // the route that gave up on it
}

// SetHeaders writes d into h, one header each (DeadLetterHeaders).
func (d DeadLetterInfo) SetHeaders(h nats.Header) {
	h.Set(events.HeaderDLQReason, d.Reason)
	h.Set(events.HeaderDLQKind, d.Kind)
	h.Set(events.HeaderDLQAttempts, strconv.Itoa(d.Attempts))
	h.Set(events.HeaderDLQTime, d.Time.UTC().Format(time.RFC3339))
	h.Set(events.HeaderOriginStream, d.OriginStream)
	h.Set(events.HeaderOriginSeq, strconv.FormatUint(d.OriginSeq, 10))
	h.Set(events.HeaderOriginSubject, d.OriginSubject)
	h.Set(events.HeaderRoute, d.Route)
}

// ReadDeadLetterInfo reads a dead letter's headers. A header that is
// missing or unreadable leaves its field zero: a message published to the
// DLQ by hand is still listed, with what it says.
func ReadDeadLetterInfo(h nats.Header) DeadLetterInfo {
	d := DeadLetterInfo{Reason: h.Get(events.HeaderDLQReason), Kind: h.Get(events.HeaderDLQKind),
		OriginStream: h.Get(events.HeaderOriginStream), OriginSubject: h.Get(events.HeaderOriginSubject), Route: h.Get(events.HeaderRoute)}
	d.Attempts, _ = strconv.Atoi(h.Get(events.HeaderDLQAttempts))
	d.Time, _ = time.Parse(time.RFC3339, h.Get(events.HeaderDLQTime))
	d.OriginSeq, _ = strconv.ParseUint(h.Get(events.HeaderOriginSeq), 10, 64)
	return d
}
