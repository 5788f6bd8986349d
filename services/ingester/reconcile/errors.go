package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/insightpulse/pulsehub/events/wire"
)

// Error is a failure of the reconciler with its class (wire.ReconcilerError*),
// which the checkpoint and the error metric carry to the health page.
type Error struct {
	Class string
	Msg   string    // for a person: what happened and what to do
	Until time.Time // rate_limited: no request to GitHub before this time
	Err   error

	secondary bool // a secondary rate limit: the wait doubles with each one in a row
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// ends says whether an error of this class ends the pass: GitHub refuses
// the App, limits it or is away. The others are about one delivery.
func (e *Error) ends() bool {
	switch e.Class {
	case wire.ReconcilerErrorRefused, wire.ReconcilerErrorRedelivery:
		return false
	}
	return true
}

// waiting says the error is the reconciler's own pause for a rate limit
// met before: no request was made.
func (e *Error) waiting() bool { return e.Class == wire.ReconcilerErrorRateLimited && e.Err == nil }

// defaultSecondaryWait is how long to wait after a secondary rate limit
// without Retry-After: GitHub says at least a minute, more each time.
const defaultSecondaryWait = time.Minute

// classify turns an error of a GitHub call (what, e.g. "list app hook
// deliveries") into an *Error. now is the hub's clock; strikes counts the
// secondary limits in a row (the wait doubles with each).
func classify(err error, what string, now time.Time, strikes int) *Error {
	var (
		rate   *github.RateLimitError
		abuse  *github.AbuseRateLimitError
		answer *github.ErrorResponse
	)
	wrap := func(class, format string, args ...any) *Error {
		return &Error{Class: class, Msg: what + ": " + fmt.Sprintf(format, args...), Err: err}
	}
	switch {
	case errors.As(err, &rate):
		e := wrap(wire.ReconcilerErrorRateLimited, "GitHub's rate limit for the App is spent (%d requests an hour); no request before %s",
			rate.Rate.Limit, rate.Rate.Reset.UTC().Format(time.RFC3339))
		e.Until = rate.Rate.Reset.Time
		return e
	case errors.As(err, &abuse):
		wait := secondaryWait(abuse.RetryAfter, strikes)
		e := wrap(wire.ReconcilerErrorRateLimited, "GitHub's secondary rate limit (%s); no request for %s", abuse.Message, wait)
		e.Until, e.secondary = now.Add(wait), true
		return e
	case errors.As(err, &answer) && answer.Response != nil:
		return classifyAnswer(err, answer, what, now, strikes)
	case errors.Is(err, context.Canceled):
		return wrap(wire.ReconcilerErrorGitHubUnavailable, "stopped")
	}
	return wrap(wire.ReconcilerErrorGitHubUnavailable, "GitHub's API is unreachable: %v", err)
}

// classifyAnswer classifies an error answer go-github did not type: 401,
// 429 and a 403 with Retry-After (secondary limits come as either), the
// refusals of a redelivery, and the rest.
func classifyAnswer(err error, a *github.ErrorResponse, what string, now time.Time, strikes int) *Error {
	code := a.Response.StatusCode
	e := &Error{Err: err}
	detail := a.Message
	if a.DocumentationURL != "" {
		detail += " (" + a.DocumentationURL + ")"
	}
	h := a.Response.Header
	switch {
	case code == http.StatusUnauthorized && jwtClockMessage(a.Message):
		e.Class = wire.ReconcilerErrorJWTClock
		e.Msg = fmt.Sprintf("%s: GitHub refuses the App's JWT for its time claims, so the hub's clock is off%s. "+
			"The JWT is dated 30 s back and expires 90 s later by the hub's clock: a clock more than 30 s ahead of GitHub's, "+
			"or 90 s behind, is refused. Synchronise the clock (NTP). GitHub said: %q",
			what, clockDifference(h.Get("Date"), now), a.Message)
	case code == http.StatusUnauthorized:
		e.Class = wire.ReconcilerErrorUnauthorized
		e.Msg = fmt.Sprintf("%s: GitHub refuses the App's JWT: check ingester.github.app.app_id and private_key (%d %s)", what, code, detail)
	case code == http.StatusTooManyRequests || (code == http.StatusForbidden && (h.Get("Retry-After") != "" || h.Get("X-RateLimit-Remaining") == "0")):
		wait := retryWait(h, now, strikes)
		e.Class, e.Until, e.secondary = wire.ReconcilerErrorRateLimited, now.Add(wait), h.Get("X-RateLimit-Remaining") != "0"
		e.Msg = fmt.Sprintf("%s: GitHub's rate limit (%d %s); no request for %s", what, code, detail, wait)
	case code >= 500:
		e.Class = wire.ReconcilerErrorGitHubUnavailable
		e.Msg = fmt.Sprintf("%s: GitHub answered %d %s", what, code, detail)
	default:
		e.Class = wire.ReconcilerErrorUnauthorized
		e.Msg = fmt.Sprintf("%s: GitHub refused the request: %d %s", what, code, detail)
	}
	return e
}

// refusedForGood says whether GitHub's answer to a redelivery request
// will not change: 422 (too old, unknown), 400, 404, 410.
func refusedForGood(err error) (*github.ErrorResponse, bool) {
	var a *github.ErrorResponse
	if !errors.As(err, &a) || a.Response == nil {
		return nil, false
	}
	switch a.Response.StatusCode {
	case http.StatusUnprocessableEntity, http.StatusBadRequest, http.StatusNotFound, http.StatusGone:
		return a, true
	}
	return nil, false
}

// jwtClockMessage recognises GitHub's 401 messages about the JWT's time
// claims: "'Issued at' claim ('iat') must be an Integer representing the
// time that the assertion was issued", "'Expiration time' claim ('exp')
// must be a numeric value representing the future time at which the
// assertion expires", "... is too far in the future".
func jwtClockMessage(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "'issued at' claim") || strings.Contains(m, "'expiration time' claim") ||
		strings.Contains(m, "('iat')") || strings.Contains(m, "('exp')")
}

// clockDifference says how far the hub's clock is from GitHub's Date
// header (to the second), or nothing when there is none.
func clockDifference(date string, now time.Time) string {
	t, err := http.ParseTime(date)
	if err != nil {
		return ""
	}
	d := now.Truncate(time.Second).Sub(t)
	switch {
	case d > 0:
		return fmt.Sprintf(" (it is %s ahead of GitHub's, by GitHub's Date header)", d)
	case d < 0:
		return fmt.Sprintf(" (it is %s behind GitHub's, by GitHub's Date header)", -d)
	}
	return " (its Date header agrees to the second: GitHub may count from another instant)"
}

// retryWait reads how long GitHub asks to wait: Retry-After (seconds),
// else X-RateLimit-Reset when the budget is spent, else a minute doubled
// by every secondary limit in a row.
func retryWait(h http.Header, now time.Time, strikes int) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		d := time.Duration(s) * time.Second
		return secondaryWait(&d, strikes)
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			if d := time.Unix(reset, 0).Sub(now); d > 0 {
				return d
			}
		}
	}
	return secondaryWait(nil, strikes)
}

// secondaryWait is Retry-After when GitHub gave one (at least a second),
// else a minute doubled by each secondary limit in a row, at most an hour.
func secondaryWait(retryAfter *time.Duration, strikes int) time.Duration {
	if retryAfter != nil && *retryAfter > 0 {
		return max(*retryAfter, time.Second)
	}
	return min(defaultSecondaryWait<<min(strikes, 6), time.Hour)
}
