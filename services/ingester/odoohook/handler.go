// Package odoohook receives Odoo "Send Webhook Notification" actions on
// POST /odoo/{name}/{token}. Odoo cannot sign a body or add a header, so
// each configured source has a secret token in its URL, compared in
// constant time; an unknown name or a wrong token is 404. A body must be
// an Odoo webhook body (schemas/odoo-webhook: _model and _id at least) of
// the source's model; it is stored as received on
// odoo.event.<model>.<name> (stream ODOO) with an id derived from the
// change (package odooevent), so Odoo's repeated POSTs are stored once.
//
// Odoo waits about one second and never retries: the publish timeout is
// kept well under that, and what is lost anyway is caught up by the poll.
package odoohook

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"time"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/odooevent"
)

// DefaultMaxBodyBytes bounds an Odoo webhook body: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// Source is one configured webhook source.
type Source struct {
	Name  string // the {name} in the URL
	Token string // the {token} in the URL
	Model string // the only model it accepts; "" = any
	URI   string // ce-source; "" = urn:pulsehub:odoo:<name>
}

// Handler answers POST /odoo/{name}/{token}.
type Handler struct {
	Sources map[string]Source // by name
	MaxBody int64             // body limit in bytes; default 1 MiB
	Publish *intake.Publisher // stores the change (its Timeout well under Odoo's 1 s)
	Stored  StoredLookup      // compares a duplicate with the stored copy; nil = never
	Log     *slog.Logger      // diagnostics
	Now     func() time.Time  // clock for ce-time without write_date; default time.Now
}

// Endpoint wraps the handler with the request log, metrics and the body
// rules (the budget it shares with the other endpoints, the rate floor).
func (h *Handler) Endpoint(log *slog.Logger, m *intake.Metrics, bodies intake.BodyRules) intake.Endpoint {
	return intake.Endpoint{Source: "odoo", Log: log, Metrics: m, Handle: h.Handle, Bodies: bodies}
}

// Handle decides the answer to one webhook call. The token in the URL is
// checked before a byte of the body is read, so a stranger's request
// holds nothing of the body budget.
func (h *Handler) Handle(w http.ResponseWriter, r *http.Request) intake.Result {
	src, ok := h.authorize(r.PathValue("name"), r.PathValue("token"))
	if !ok {
		res := intake.Reject(http.StatusNotFound, intake.OutcomeNotFound, "not found")
		res.Source = "odoo/unknown"
		res.Attrs = []any{"odoo_source", printable(r.PathValue("name"))}
		return res
	}
	label := "odoo/" + src.Name
	body, res, ok := intake.ReadBody(w, r, h.maxBody())
	if !ok {
		res.Source = label
		return res
	}
	if mt := intake.MediaType(r); mt != "" && mt != "application/json" {
		res := intake.Reject(http.StatusUnsupportedMediaType, intake.OutcomeUnsupportedMedia, "Content-Type must be application/json")
		res.Source = label
		return res
	}
	c, err := parse(body, src)
	if err != nil {
		res := intake.Reject(http.StatusBadRequest, intake.OutcomeBadRequest, err.Error())
		res.Source = label
		return res
	}
	c.Received = h.now()
	res = h.store(r, c)
	res.Source = label
	res.Attrs = append(res.Attrs, "odoo_source", src.Name, "odoo_model", c.Model, "odoo_id", c.RecordID, "subject", c.Subject())
	return res
}

// store publishes the change and, for a duplicate, checks it is not a
// second change within the same second (see sameSecond).
func (h *Handler) store(r *http.Request, c odooevent.Change) intake.Result {
	id := c.ID()
	service.SetCorrelationID(r.Context(), id)
	a, err := h.Publish.Publish(r.Context(), c.Subject(), c.Event(id))
	if err != nil {
		res := intake.Failed(err)
		res.CorrelationID = id
		return res
	}
	if a.Duplicate && h.sameSecond(r, c, a) {
		precise := c.PreciseID()
		if a, err = h.Publish.Publish(r.Context(), c.Subject(), c.Event(precise)); err != nil {
			res := intake.Failed(err)
			res.CorrelationID = precise
			return res
		}
	}
	return intake.Stored(http.StatusAccepted, a)
}

// authorize finds the source and checks its token in constant time. An
// unknown name costs the same comparison as a known one.
func (h *Handler) authorize(name, token string) (Source, bool) {
	src, known := h.Sources[name]
	want := sha256.Sum256([]byte(src.Token))
	got := sha256.Sum256([]byte(token))
	match := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	return src, known && src.Token != "" && match
}

func (h *Handler) maxBody() int64 {
	if h.MaxBody > 0 {
		return h.MaxBody
	}
	return DefaultMaxBodyBytes
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// printable makes an untrusted path segment safe to log: at most 64
// bytes, control characters replaced.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}
