package intake

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/insightpulse/pulsehub/events/service"
)

// Outcomes label what became of a request, in logs and metrics.
const (
	OutcomeStored           = "stored"             // stored in JetStream
	OutcomeDuplicate        = "duplicate"          // JetStream already held it (same ce-id)
	OutcomeBadSignature     = "bad_signature"      // missing or wrong X-Hub-Signature-256
	OutcomeNotFound         = "not_found"          // unknown Odoo source or wrong token
	OutcomeBadRequest       = "bad_request"        // missing headers, malformed body
	OutcomeTooLarge         = "too_large"          // body over the limit
	OutcomeUnsupportedMedia = "unsupported_media"  // a content type the endpoint does not take
	OutcomeMethodNotAllowed = "method_not_allowed" // not a POST
	OutcomeUnavailable      = "unavailable"        // NATS unreachable or no PubAck in time
	OutcomeBusy             = "busy"               // no room for the body in the budget within BudgetWait
	OutcomeTooSlow          = "too_slow"           // the body arrived slower than the rate floor (408)
)

// Result is what an endpoint decided about one request: the answer, how
// to count it, and what to log.
type Result struct {
	Status        int    // HTTP status
	Outcome       string // one of the Outcome constants
	Body          any    // JSON answer; nil = {"error": Message}
	Message       string // a safe, short explanation for the client and the log
	CorrelationID string // the delivery's id (GitHub GUID, Odoo event id)
	Source        string // metrics label; "" = the Endpoint's Source
	Err           error  // the underlying failure, logged (never sent to the client)
	Attrs         []any  // extra log attributes (subject, stream_seq, event, ...)
}

// Reject is a Result for a request refused with status.
func Reject(status int, outcome, message string) Result {
	return Result{Status: status, Outcome: outcome, Message: message}
}

// Endpoint wraps one webhook handler: POST only, the body rules (budget
// and rate floor) for the handler's ReadBody, one log line and one metric
// per request.
type Endpoint struct {
	Source  string                                              // metrics label, e.g. github
	Log     *slog.Logger                                        // request log
	Metrics *Metrics                                            // may be nil
	Handle  func(w http.ResponseWriter, r *http.Request) Result // decides the answer
	Bodies  BodyRules                                           // how ReadBody reads within this endpoint

	// AcceptedLevel is the level of the log line of a request answered
	// 2xx (stored, duplicate); the zero value is Info. Debug leaves the
	// accepted deliveries out of a log at the default level (the line is
	// then not even built: ~8 % of the ingester's CPU under load), while
	// refusals and failures (Warn, Error) are always written and the
	// metrics count every request.
	AcceptedLevel slog.Level

	// Correlate is a safe-to-log correlation id from the request's headers
	// (a GitHub delivery GUID), known before the body is read: the HTTP
	// server names the request by it if a shutdown has to cut it. May be nil.
	Correlate func(r *http.Request) string
}

// ServeHTTP implements http.Handler.
//
// With tracing on, the request is a server span, the root of the event's
// trace: a traceparent sent with a webhook is ignored, since a sender
// outside the hub could otherwise force every trace to be sampled.
func (e Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r, span := e.startSpan(r)
	var res Result
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		res = Reject(http.StatusMethodNotAllowed, OutcomeMethodNotAllowed, "only POST is allowed here")
	} else {
		res = e.handle(w, r)
	}
	if res.Source == "" {
		res.Source = e.Source
	}
	body := res.Body
	if body == nil {
		body = map[string]string{"error": res.Message}
	}
	if res.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeAnswer(w, res.Status, body)
	if e.Metrics != nil {
		e.Metrics.request(res, time.Since(start))
	}
	e.log(r, res, time.Since(start))
	endSpan(span, res)
}

// handle runs the handler with a hold on the budget that its ReadBody
// grows as the body arrives, and gives the hold (and the body's pooled
// buffer) back once the handler has answered (after the publish), even if
// it panics. A handler must not keep the body past its return.
func (e Endpoint) handle(w http.ResponseWriter, r *http.Request) Result {
	if e.Correlate != nil {
		service.SetCorrelationID(r.Context(), e.Correlate(r))
	}
	rd := &reading{rules: e.Bodies, hold: e.Bodies.Budget.Hold(), pool: true}
	defer rd.done()
	return e.Handle(w, r.WithContext(context.WithValue(r.Context(), readingKey{}, rd)))
}

func (e Endpoint) log(r *http.Request, res Result, took time.Duration) {
	if e.Log == nil {
		return
	}
	level := e.AcceptedLevel
	switch {
	case res.Status >= 500:
		level = slog.LevelError
	case res.Status >= 400:
		level = slog.LevelWarn
	}
	if !e.Log.Enabled(r.Context(), level) {
		return
	}
	// Attributes, not key-value pairs: the line is written for every
	// request, and pairs cost a conversion each.
	attrs := make([]slog.Attr, 0, 10+len(res.Attrs)/2)
	attrs = append(attrs,
		slog.String("correlation_id", res.CorrelationID),
		slog.String("source", res.Source),
		slog.String("method", r.Method),
		slog.String("route", r.Pattern), // the pattern, never the path: an Odoo path holds its token
		slog.String("remote_addr", r.RemoteAddr),
		slog.Int("status", res.Status),
		slog.String("outcome", res.Outcome),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000))
	for i := 0; i < len(res.Attrs); i++ {
		switch k := res.Attrs[i].(type) {
		case slog.Attr:
			attrs = append(attrs, k)
		case string:
			if i+1 < len(res.Attrs) {
				i++
				attrs = append(attrs, slog.Any(k, res.Attrs[i]))
			} else {
				attrs = append(attrs, slog.Any("!BADKEY", k))
			}
		default:
			attrs = append(attrs, slog.Any("!BADKEY", k))
		}
	}
	if res.Message != "" && res.Body == nil {
		attrs = append(attrs, slog.String("reason", res.Message))
	}
	if res.Err != nil {
		attrs = append(attrs, slog.String("error", res.Err.Error()))
	}
	e.Log.LogAttrs(r.Context(), level, "request", attrs...)
}

// writeAnswer writes body as service.WriteJSON does; an Accepted body (the
// answer to every stored event) is encoded without reflection.
func writeAnswer(w http.ResponseWriter, status int, body any) {
	if a, ok := body.(Accepted); ok {
		var buf [256]byte
		if b, ok := a.appendJSON(buf[:0]); ok {
			service.WriteJSONBytes(w, status, b)
			return
		}
	}
	service.WriteJSON(w, status, body)
}
