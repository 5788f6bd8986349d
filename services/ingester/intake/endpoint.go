package intake

import (
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

// Endpoint wraps one webhook handler: POST only, room for the body in the
// shared budget before the handler runs, one log line and one metric per
// request.
type Endpoint struct {
	Source  string                                              // metrics label, e.g. github
	Log     *slog.Logger                                        // request log
	Metrics *Metrics                                            // may be nil
	Handle  func(w http.ResponseWriter, r *http.Request) Result // decides the answer
	MaxBody int64                                               // the handler's body limit in bytes: what a body of unknown length reserves; 0 = nothing
	Budget  *Budget                                             // bytes of bodies in flight, shared by the endpoints; nil = unbounded

	// Correlate is the correlation id of a request refused before Handle
	// runs (budget full): a safe-to-log id from its headers, or "". May be nil.
	Correlate func(r *http.Request) string
}

// ServeHTTP implements http.Handler.
func (e Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
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
	service.WriteJSON(w, res.Status, body)
	if e.Metrics != nil {
		e.Metrics.request(res, time.Since(start))
	}
	e.log(r, res, time.Since(start))
}

// handle runs the handler with its body's room reserved in the budget,
// and gives the room back once the handler has answered (after the
// publish), even if it panics.
func (e Endpoint) handle(w http.ResponseWriter, r *http.Request) Result {
	release, err := e.Budget.Reserve(r.Context(), e.reservation(r))
	if err != nil {
		res := Reject(http.StatusServiceUnavailable, OutcomeBusy,
			"the ingester is receiving too many request bodies at once; try again later")
		res.Err = err
		if e.Correlate != nil {
			res.CorrelationID = e.Correlate(r)
		}
		return res
	}
	defer release()
	return e.Handle(w, r)
}

// reservation is what a request's body may take: its Content-Length, the
// endpoint's limit when the length is unknown, and nothing when the
// length is over the limit (the handler refuses it, 413, unread).
func (e Endpoint) reservation(r *http.Request) int64 {
	switch n := r.ContentLength; {
	case n < 0:
		return e.MaxBody
	case e.MaxBody > 0 && n > e.MaxBody:
		return 0
	default:
		return n
	}
}

func (e Endpoint) log(r *http.Request, res Result, took time.Duration) {
	if e.Log == nil {
		return
	}
	attrs := append([]any{
		"correlation_id", res.CorrelationID,
		"source", res.Source,
		"method", r.Method,
		"route", r.Pattern, // the pattern, never the path: an Odoo path holds its token
		"remote_addr", r.RemoteAddr,
		"status", res.Status,
		"outcome", res.Outcome,
		"duration_ms", float64(took.Microseconds()) / 1000,
	}, res.Attrs...)
	if res.Message != "" && res.Body == nil {
		attrs = append(attrs, "reason", res.Message)
	}
	if res.Err != nil {
		attrs = append(attrs, "error", res.Err.Error())
	}
	level := slog.LevelInfo
	switch {
	case res.Status >= 500:
		level = slog.LevelError
	case res.Status >= 400:
		level = slog.LevelWarn
	}
	e.Log.Log(r.Context(), level, "request", attrs...)
}
