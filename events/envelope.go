package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// Event is one message with its CloudEvents attributes. On the wire the
// attributes travel as NATS headers (binary content mode) and Data is the
// body, untouched: a GitHub delivery is stored byte for byte.
type Event struct {
	ID            string    // ce-id; also Nats-Msg-Id, so redeliveries de-duplicate
	Source        string    // ce-source: a URI-reference naming where it happened
	Type          string    // ce-type: reverse-DNS, e.g. com.github.issues.opened
	Subject       string    // ce-subject (optional): what it is about, e.g. hr.expense/42
	Time          time.Time // ce-time
	ContentType   string    // content-type, e.g. application/json
	CorrelationID string    // ce-correlationid: the first event's id, carried to every derived one
	CausationID   string    // ce-causationid: the id of the event this one was derived from
	TraceParent   string    // traceparent (W3C), passed on untouched
	Header        nats.Header
	Data          []byte
}

// NewID returns a fresh, time-ordered event id (UUIDv7).
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// StableID derives an id from parts, the same for the same parts every time
// (UUIDv5). Two paths that see the same change (an Odoo webhook and the
// Odoo poll) compute the same id, so JetStream stores the change once.
func StableID(parts ...string) string {
	h := uuid.NewSHA1(stableNamespace, []byte(joinParts(parts)))
	return h.String()
}

var stableNamespace = uuid.MustParse("6f1c2a9e-4d0b-5e8a-9c1f-3b7d2e6a8f40")

func joinParts(parts []string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
		b = append(b, 0) // a separator that cannot appear in ids or names
	}
	return string(b)
}

// New makes an event with a fresh id and the current time. Its correlation
// id is the one in ctx, or its own id when ctx has none.
func New(ctx context.Context, source, typ string, data []byte) Event {
	e := Event{ID: NewID(), Source: source, Type: typ, Time: time.Now().UTC(), ContentType: "application/json", Data: data}
	e.CorrelationID = CorrelationID(ctx)
	if e.CorrelationID == "" {
		e.CorrelationID = e.ID
	}
	return e
}

// Derive makes the event that follows from e (a result from a request, a
// dead letter's requeue): a new id, e's correlation id and trace context,
// and e's id as its cause.
func (e Event) Derive(source, typ string, data []byte) Event {
	d := Event{ID: NewID(), Source: source, Type: typ, Time: time.Now().UTC(), ContentType: "application/json", Data: data}
	d.CorrelationID = e.Correlation()
	d.CausationID = e.ID
	d.TraceParent = e.TraceParent
	return d
}

// Correlation is the id that ties e to the event that started its chain.
func (e Event) Correlation() string {
	if e.CorrelationID != "" {
		return e.CorrelationID
	}
	return e.ID
}

// Validate reports what a consumer cannot work without.
func (e Event) Validate() error {
	var errs []error
	if e.ID == "" {
		errs = append(errs, errors.New("ce-id is missing"))
	}
	if e.Source == "" {
		errs = append(errs, errors.New("ce-source is missing"))
	}
	if e.Type == "" {
		errs = append(errs, errors.New("ce-type is missing"))
	}
	return errors.Join(errs...)
}

// Msg encodes e for publishing on subject. Extra headers in e.Header are
// copied; the envelope's own headers win over them.
func (e Event) Msg(subject string) *nats.Msg {
	// One map of its final size and one array for every value (each
	// header's slice capped, so an append to one never reaches the next):
	// the ingester builds one message per request.
	n := envelopeHeaders
	for _, v := range e.Header {
		n += len(v)
	}
	m := &nats.Msg{Subject: subject, Header: make(nats.Header, len(e.Header)+envelopeHeaders)}
	vals := make([]string, 0, n)
	add := func(k string, v ...string) {
		start := len(vals)
		vals = append(vals, v...)
		m.Header[k] = vals[start:len(vals):len(vals)]
	}
	for k, v := range e.Header {
		add(k, v...)
	}
	set := func(k, v string) {
		if v != "" {
			add(k, v)
		}
	}
	set(HeaderSpecVersion, SpecVersion)
	set(HeaderID, e.ID)
	set(HeaderMsgID, e.ID)
	set(HeaderSource, e.Source)
	set(HeaderType, e.Type)
	set(HeaderSubject, e.Subject)
	if !e.Time.IsZero() {
		set(HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	}
	set(HeaderContentType, e.ContentType)
	set(HeaderCorrelationID, e.CorrelationID)
	set(HeaderCausationID, e.CausationID)
	set(HeaderTraceParent, e.TraceParent)
	m.Data = e.Data
	return m
}

// envelopeHeaders is how many headers Msg may set besides e.Header.
const envelopeHeaders = 11

// FromMsg decodes the envelope of a received message. It never fails, so a
// message published by hand (`nats pub` without headers) can still be
// inspected: ID falls back to Nats-Msg-Id; call Validate to insist.
func FromMsg(h nats.Header, data []byte) Event {
	e := Event{
		ID:            h.Get(HeaderID),
		Source:        h.Get(HeaderSource),
		Type:          h.Get(HeaderType),
		Subject:       h.Get(HeaderSubject),
		ContentType:   h.Get(HeaderContentType),
		CorrelationID: h.Get(HeaderCorrelationID),
		CausationID:   h.Get(HeaderCausationID),
		TraceParent:   h.Get(HeaderTraceParent),
		Header:        h,
		Data:          data,
	}
	if e.ID == "" {
		e.ID = h.Get(HeaderMsgID)
	}
	if t := h.Get(HeaderTime); t != "" {
		if parsed, err := time.Parse(time.RFC3339Nano, t); err == nil {
			e.Time = parsed
		}
	}
	return e
}

// String is a short description for logs and errors (never the body).
func (e Event) String() string {
	return fmt.Sprintf("event %s (%s from %s)", e.ID, e.Type, e.Source)
}

type correlationKey struct{}

// WithCorrelationID returns ctx carrying a correlation id.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationID returns the correlation id in ctx, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}
