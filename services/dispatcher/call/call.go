// Package call makes one HTTP call to a microservice and decides what its
// answer means: a success with its body, a transient failure worth
// retrying (connection errors, timeouts, 5xx, 408, 429 — with the
// answer's Retry-After as the least wait), or a permanent one (any other
// 4xx, a redirect, an answer that is not JSON where JSON is expected, an
// answer too large), which is dead-lettered at once with the status and
// the first KiB of the answer, every configured secret scrubbed from it.
//
// A call never follows a redirect: the request carries the service's
// auth header, which Go's client would send on to whatever host the
// redirect names (it drops only Authorization and cookies, and only
// between unrelated domains). A service's URL is configured, so a
// redirect means that configuration is out of date; the failure says
// where the service pointed.
package call

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
)

// Headers every call carries besides Content-Type and the auth header.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderCorrelationID  = "X-Correlation-Id"
	HeaderTraceParent    = "traceparent"
)

// Response modes: how the answer's body is read.
const (
	ResponseAuto = "auto" // JSON when the answer's Content-Type says so, else text
	ResponseJSON = "json" // must be JSON: anything else is a permanent failure
	ResponseText = "text" // kept as text
)

// snippetBytes is how much of a failed answer goes into the error.
const snippetBytes = 1024

// Request is one call.
type Request struct {
	Method           string // default POST
	URL              string // the service's base URL + Path (set by the channel)
	Path             string
	Body             []byte
	ContentType      string // default application/json
	IdempotencyKey   string
	CorrelationID    string
	TraceParent      string
	AuthHeader, Auth string // the secret header, when the service has one
	Response         string // auto (default), json or text
	MaxResponseBytes int64  // a longer answer is a permanent failure; 0 = no limit
}

// Answer is what the service said.
type Answer struct {
	Status   int             // 0 when no answer arrived
	Response json.RawMessage // the answer as JSON: its value, or its text as a JSON string; nil when empty
	Duration time.Duration
}

// Do sends req with client and classifies the outcome. Every error is an
// *events.Error (transient, with RetryAfter where the service asked for a
// wait, or permanent) except ctx's own cancellation.
func Do(ctx context.Context, client *http.Client, req Request) (Answer, error) {
	hreq, err := build(ctx, req)
	if err != nil {
		return Answer{}, events.Permanent(err)
	}
	start := time.Now()
	noRedirects := *client // a copy: the caller's client keeps its own policy
	noRedirects.CheckRedirect = useLastResponse
	resp, err := noRedirects.Do(hreq)
	if err != nil {
		return Answer{Duration: time.Since(start)}, transport(ctx, req.describe(), err)
	}
	defer resp.Body.Close()
	body, tooLong, err := readBody(resp.Body, req.MaxResponseBytes)
	ans := Answer{Status: resp.StatusCode, Duration: time.Since(start)}
	if err != nil || resp.StatusCode < 200 || resp.StatusCode >= 300 || tooLong {
		return ans, failure(ctx, req, resp, body, tooLong, err)
	}
	ans.Response, err = decode(req.Response, resp.Header.Get("Content-Type"), body)
	if err != nil {
		return ans, events.Permanentf("%s: %s: %w: %s", req.describe(), resp.Status, err, snippet(body))
	}
	return ans, nil
}

// useLastResponse is the client's redirect policy in Do: none followed.
func useLastResponse(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// failure classifies an answer that is not a success: the body could
// not be read, a status other than 2xx, or an answer over the limit. The
// call's description (method and redacted URL) is made only here, for the
// error's text.
func failure(ctx context.Context, req Request, resp *http.Response, body []byte, tooLong bool, err error) error {
	what := req.describe()
	if err != nil {
		return transport(ctx, what, fmt.Errorf("read answer: %w", err))
	}
	if err := statusError(what, resp, body); err != nil {
		return err
	}
	return events.Permanentf("%s: %s: answer longer than %d bytes", what, resp.Status, req.MaxResponseBytes)
}

func build(ctx context.Context, req Request) (*http.Request, error) {
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if len(req.Body) > 0 && method != http.MethodGet {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, req.URL, body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, redact(req.URL), err)
	}
	h := hreq.Header
	if body != nil {
		ct := req.ContentType
		if ct == "" {
			ct = "application/json"
		}
		h.Set("Content-Type", ct)
	}
	h.Set("Accept", "application/json, text/plain;q=0.9, */*;q=0.1")
	h.Set("User-Agent", "pulsehub-dispatcher")
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set(HeaderIdempotencyKey, req.IdempotencyKey)
	set(HeaderCorrelationID, req.CorrelationID)
	set(HeaderTraceParent, req.TraceParent)
	if req.AuthHeader != "" {
		set(req.AuthHeader, req.Auth)
	}
	return hreq, nil
}

func (req Request) describe() string {
	m := strings.ToUpper(req.Method)
	if m == "" {
		m = http.MethodPost
	}
	return m + " " + redact(req.URL)
}

// redact drops the query (it may hold a token) from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// transport classifies a failure to get an answer: transient, unless ctx
// itself was cancelled (shutdown), which is returned as is.
func transport(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return events.Transient(fmt.Errorf("%s: timed out: %w", what, context.DeadlineExceeded))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // it repeats the URL, query included; what has it without
	}
	return events.Transient(fmt.Errorf("%s: %w", what, err))
}

func readBody(r io.Reader, limit int64) ([]byte, bool, error) {
	if limit <= 0 {
		b, err := io.ReadAll(r)
		return b, false, err
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return b[:limit], true, err
	}
	return b, false, err
}

// statusError classifies a non-2xx answer.
func statusError(what string, resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	if code >= 300 && code < 400 {
		return events.Permanentf("%s: %s: a redirect to %s, not followed (it would take the service's auth header along): "+
			"set the service's url to the address it answers on", what, resp.Status, redactLocation(resp))
	}
	err := fmt.Errorf("%s: %s: %s", what, resp.Status, snippet(body))
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		if d := RetryAfter(resp.Header.Get("Retry-After"), time.Now()); d > 0 {
			return events.RetryAfter(err, d)
		}
		return events.Transient(err)
	}
	return events.Permanent(err)
}

// RetryAfter parses a Retry-After header (delay-seconds or an HTTP date)
// into a wait from now; 0 when absent or unreadable.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// redactLocation is where a redirect points, without its query.
func redactLocation(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return "(no Location)"
	}
	return redact(loc.String())
}

// snippet is the first KiB of an answer, made printable for a header,
// with every configured secret scrubbed: the error goes into logs, the
// job's record and the dead letter, and a service may echo the request's
// auth header in its error answer.
func snippet(body []byte) string {
	if len(body) == 0 {
		return "(empty answer)"
	}
	// Scrub before cutting, so a secret across the cut is still found.
	if len(body) > 64*snippetBytes {
		body = body[:64*snippetBytes]
	}
	s := config.Scrub(string(body))
	if len(s) > snippetBytes {
		s = s[:snippetBytes]
	}
	return strings.ToValidUTF8(s, "?")
}

// decode turns the body into the result's response value.
func decode(mode, contentType string, body []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	isJSON := mode == ResponseJSON || (mode != ResponseText && jsonMediaType(contentType))
	if isJSON {
		if !json.Valid(body) {
			return nil, errors.New("answer is not valid JSON")
		}
		return json.RawMessage(bytes.TrimSpace(body)), nil
	}
	b, err := json.Marshal(strings.ToValidUTF8(string(body), "\uFFFD"))
	return b, err
}

func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
