// Package githubhook receives GitHub App webhook deliveries on POST
// /github: it verifies X-Hub-Signature-256 against the configured secrets,
// checks the delivery headers and the payload, and stores the body exactly
// as received on github.<event>.<action> (stream GITHUB) with the delivery
// GUID as ce-id, so a redelivery is stored once.
package githubhook

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// DefaultMaxBodyBytes is GitHub's own cap on a delivery: 25 MiB.
const DefaultMaxBodyBytes = 25 << 20

// Handler answers POST /github.
type Handler struct {
	Verifier *Verifier         // the webhook secrets
	Insecure bool              // accept unsigned deliveries (development only; logged on every one)
	MaxBody  int64             // body limit in bytes; default 25 MiB
	Publish  *intake.Publisher // stores the delivery
	Log      *slog.Logger      // for the insecure warnings
	Now      func() time.Time  // clock for ce-time; default time.Now
}

// isGUID reports whether s is a delivery GUID: GitHub sends a UUID; 1 to
// events.MaxIDLen letters, digits and '-', since it becomes ce-id and
// Nats-Msg-Id. (A loop, not a regexp: it runs twice per delivery.)
func isGUID(s string) bool {
	if s == "" || len(s) > events.MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Endpoint wraps the handler with the request log, metrics and the body
// rules (the budget it shares with the other endpoints, the rate floor).
func (h *Handler) Endpoint(log *slog.Logger, m *intake.Metrics, bodies intake.BodyRules) intake.Endpoint {
	return intake.Endpoint{Source: "github", Log: log, Metrics: m, Handle: h.Handle, Bodies: bodies, Correlate: correlate}
}

// Handle decides the answer to one delivery. Order matters: nothing about
// the request is looked at before its signature is checked, except its size.
func (h *Handler) Handle(w http.ResponseWriter, r *http.Request) intake.Result {
	guid := r.Header.Get("X-GitHub-Delivery")
	body, res, ok := intake.ReadBody(w, r, h.maxBody())
	if !ok {
		return withDelivery(res, guid)
	}
	if res, ok := h.verify(r, body, guid); !ok {
		return res
	}
	d, res, ok := h.delivery(r, body)
	if !ok {
		return withDelivery(res, guid)
	}
	s, err := parse(d.ContentType, body)
	if err != nil {
		res := intake.Reject(http.StatusBadRequest, intake.OutcomeBadRequest, err.Error())
		return withDelivery(res, guid)
	}
	subject := s.subject(d.Event)
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		// Checked and bounded by now: the signature, the GUID's form, the names' lengths.
		span.SetAttributes(attribute.String("github.delivery", guid), attribute.String("github.event", d.Event),
			attribute.String("github.action", s.action))
	}
	a, err := h.Publish.Publish(r.Context(), subject, d.event(s))
	if err != nil {
		res := intake.Failed(err)
		res.Attrs = append(res.Attrs, "subject", subject)
		return withDelivery(res, guid)
	}
	status := http.StatusAccepted
	if d.Event == "ping" {
		status = http.StatusOK // GitHub shows a ping as successful on any 2xx; 200 is what it documents
	}
	res = intake.Stored(status, a)
	res.Attrs = append(res.Attrs, "subject", subject, "event", d.Event, "delivery", guid)
	return res
}

// verify checks the signature; ok is false when res is the answer (401).
func (h *Handler) verify(r *http.Request, body []byte, guid string) (intake.Result, bool) {
	sig := r.Header.Get(SignatureHeader)
	if h.Insecure && (sig == "" || h.Verifier == nil || h.Verifier.Len() == 0) {
		h.Log.Warn("accepting an UNSIGNED GitHub delivery: ingester.github.insecure_skip_signature is set; never run like this in production",
			"correlation_id", guid)
		return intake.Result{}, true
	}
	var err error = ErrNoSignature
	if h.Verifier != nil {
		err = h.Verifier.Verify(sig, body)
	}
	if err != nil {
		res := intake.Reject(http.StatusUnauthorized, intake.OutcomeBadSignature, "signature missing or wrong")
		res.Err = err
		return withDelivery(res, guid), false
	}
	return intake.Result{}, true
}

// delivery checks the delivery headers; ok is false when res is the answer.
func (h *Handler) delivery(r *http.Request, body []byte) (Delivery, intake.Result, bool) {
	d := Delivery{Event: r.Header.Get("X-GitHub-Event"), GUID: r.Header.Get("X-GitHub-Delivery"),
		HookID: r.Header.Get("X-GitHub-Hook-ID"), ContentType: intake.MediaType(r), Body: body, Received: h.now()}
	bad := func(msg string) (Delivery, intake.Result, bool) {
		return d, intake.Reject(http.StatusBadRequest, intake.OutcomeBadRequest, msg), false
	}
	switch {
	case d.Event == "":
		return bad("X-GitHub-Event header is required")
	case !events.IsName(d.Event):
		return bad(fmt.Sprintf("X-GitHub-Event is not an event name (1-%d letters, digits, _ and -)", events.MaxNameLen))
	case d.GUID == "":
		return bad("X-GitHub-Delivery header is required")
	case !isGUID(d.GUID):
		return bad(fmt.Sprintf("X-GitHub-Delivery is not a delivery GUID (1-%d letters, digits and -)", events.MaxIDLen))
	case d.ContentType != ContentJSON && d.ContentType != ContentForm:
		return d, intake.Reject(http.StatusUnsupportedMediaType, intake.OutcomeUnsupportedMedia,
			"Content-Type must be application/json or application/x-www-form-urlencoded"), false
	}
	if !headerSafe(d.HookID) {
		d.HookID = ""
	}
	return d, intake.Result{}, true
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

// withDelivery sets the correlation id of a refusal to the delivery GUID
// when it looks like one (a header is attacker-controlled until the
// signature is checked, so only a well-formed value is logged).
func withDelivery(res intake.Result, guid string) intake.Result {
	if isGUID(guid) {
		res.CorrelationID = guid
	}
	return res
}

// correlate is the delivery GUID of a request, when it looks like one.
func correlate(r *http.Request) string {
	return withDelivery(intake.Result{}, r.Header.Get("X-GitHub-Delivery")).CorrelationID
}
