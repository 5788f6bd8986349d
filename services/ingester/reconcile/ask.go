package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/insightpulse/pulsehub/events/wire"
)

// rateReserve is how much of GitHub's hourly request budget the
// reconciler leaves to other users of the App's JWT: when fewer requests
// remain (or a tenth of the limit, for small limits) it waits for
// X-RateLimit-Reset.
const rateReserve = 50

// transientInARow is how many redelivery requests in a row may fail
// (5xx, unreachable) before a pass stops asking: GitHub is then away, and
// each failed delivery keeps its place for the next pass.
const transientInARow = 3

// due returns the pending records to ask for now, newest first: a recent
// event matters most, and an old one is the likeliest to be refused. A
// refused one never blocks the others, whatever the order.
func due(recs map[string]*record, now time.Time) []*record {
	var out []*record
	for _, rec := range recs {
		if rec.State == statePending && !rec.NextAt.After(now) {
			out = append(out, rec)
		}
	}
	slices.SortFunc(out, newestFirst)
	return out
}

// newestFirst orders records by their first attempt, newest first.
func newestFirst(a, b *record) int {
	if c := b.FirstSeen.Compare(a.FirstSeen); c != 0 {
		return c
	}
	return strings.Compare(a.GUID, b.GUID)
}

// askAll asks for the due records, at most MaxPerPass and MaxPerMinute,
// each one's outcome written to its record. An error about one delivery
// is recorded and the next one is asked; what ends the pass (GitHub
// refuses the App or limits it) is returned.
func (r *Reconciler) askAll(ctx context.Context, rep *Report, todo []*record) error {
	inARow := 0
	for i, rec := range todo {
		if i >= r.maxPerPass() {
			rep.Deferred = len(todo) - i
			r.Log.Info("github reconciler: redeliveries per pass reached; the rest wait for the next pass",
				"max_per_pass", r.maxPerPass(), "waiting", rep.Deferred)
			return nil
		}
		if err := r.pace(ctx); err != nil {
			return err
		}
		if err := r.gate(); err != nil {
			rep.Deferred = len(todo) - i
			return err
		}
		e := r.ask(ctx, rec)
		if ctx.Err() != nil {
			return ctx.Err() // stopping: rec is not written; a request GitHub accepted may be made again, and the GUID makes that harmless
		}
		switch {
		case e == nil:
			inARow = 0
			rep.Redelivered = append(rep.Redelivered, rec.GUID)
		case e.Class == wire.ReconcilerErrorRefused:
			inARow = 0
			rep.Refused = append(rep.Refused, rec.GUID)
			r.note(rep, e)
		case e.ends():
			rep.Deferred = len(todo) - i
			return e
		default:
			rep.Retrying = append(rep.Retrying, rec.GUID)
			r.note(rep, e)
			if inARow++; inARow >= transientInARow {
				rep.Deferred = len(todo) - i - 1
				r.Log.Warn("github reconciler: redelivery requests keep failing; the rest wait for the next pass", "error", e.Msg)
				return r.Records.put(ctx, rec)
			}
		}
		if err := r.Records.put(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// ask requests one redelivery and updates rec: asked and backed off, or
// refused for good, or backed off after a failed request. It returns nil
// when GitHub accepted (202).
func (r *Reconciler) ask(ctx context.Context, rec *record) *Error {
	_, resp, err := r.Apps.RedeliverHookDelivery(ctx, rec.DeliveryID)
	r.lastPost = r.now()
	r.watchRate(resp)
	var accepted *github.AcceptedError
	if err == nil || errors.As(err, &accepted) {
		r.strikes = 0
		rec.Asked++
		rec.NextAt = r.now().Add(r.backoff(rec.Asked)).UTC()
		rec.ErrorClass, rec.Error = "", ""
		r.Metrics.redelivered()
		r.Log.Info("asked GitHub to redeliver a failed delivery", "correlation_id", rec.GUID, "event", rec.Event,
			"asked", rec.Asked, "status_code", rec.StatusCode, "next_check", rec.NextAt)
		return nil
	}
	what := fmt.Sprintf("redeliver github delivery %s (attempt %d)", rec.GUID, rec.DeliveryID)
	if a, ok := refusedForGood(err); ok {
		e := &Error{Class: wire.ReconcilerErrorRefused, Err: err,
			Msg: fmt.Sprintf("%s: GitHub refused for good: %d %s (%s)", what, a.Response.StatusCode, a.Message, a.DocumentationURL)}
		rec.State, rec.ErrorClass, rec.Error = stateRefused, e.Class, e.Msg
		r.Log.Warn("GitHub refused to redeliver a failed delivery; it is not asked again and is lost unless sent by hand",
			"correlation_id", rec.GUID, "event", rec.Event, "first_seen", rec.FirstSeen, "error", e.Msg)
		return e
	}
	e := r.fail(err, what)
	if e.ends() && e.Class != wire.ReconcilerErrorGitHubUnavailable {
		return e // the App is refused or limited: rec is not the cause and stays as it was
	}
	e.Class = wire.ReconcilerErrorRedelivery
	rec.NextAt = r.now().Add(r.backoff(rec.Asked + 1)).UTC()
	rec.ErrorClass, rec.Error = e.Class, e.Msg
	r.Log.Warn("a redelivery request failed; asked again later", "correlation_id", rec.GUID, "next_check", rec.NextAt, "error", e.Msg)
	return e
}

// backoff is the wait after the n-th request for a GUID: Backoff doubled
// each time, at most MaxBackoff.
func (r *Reconciler) backoff(n int) time.Duration {
	d, top := r.Backoff, r.MaxBackoff
	if d <= 0 {
		d = DefaultBackoff
	}
	if top <= 0 {
		top = DefaultMaxBackoff
	}
	for i := 1; i < n && d < top; i++ {
		d *= 2
	}
	return min(d, top)
}

// pace waits until a redelivery request is allowed: at most MaxPerMinute
// a minute, evenly spaced, across passes.
func (r *Reconciler) pace(ctx context.Context) error {
	if r.lastPost.IsZero() {
		return nil
	}
	wait := r.lastPost.Add(time.Minute / time.Duration(r.maxPerMinute())).Sub(r.now())
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// gate refuses a request while GitHub's rate limit says to wait.
func (r *Reconciler) gate() error {
	if !r.paused() {
		return nil
	}
	return &Error{Class: wire.ReconcilerErrorRateLimited, Until: r.pausedUntil,
		Msg: fmt.Sprintf("GitHub's rate limit: no request before %s", r.pausedUntil.UTC().Format(time.RFC3339))}
}

func (r *Reconciler) paused() bool { return r.now().Before(r.pausedUntil) }

func (r *Reconciler) pause(until time.Time) {
	if until.After(r.pausedUntil) {
		r.pausedUntil = until
	}
}

// watchRate honours X-RateLimit-*: with little of the budget left, no
// request before X-RateLimit-Reset.
func (r *Reconciler) watchRate(resp *github.Response) {
	if resp == nil || resp.Rate.Limit <= 0 || resp.Rate.Reset.IsZero() {
		return
	}
	if resp.Rate.Remaining < min(rateReserve, resp.Rate.Limit/10) && resp.Rate.Reset.After(r.now()) {
		if !r.paused() {
			r.Log.Warn("github reconciler: GitHub's rate limit is nearly spent; waiting for its reset",
				"remaining", resp.Rate.Remaining, "limit", resp.Rate.Limit, "reset", resp.Rate.Reset.UTC())
		}
		r.pause(resp.Rate.Reset.Time)
	}
}

// fail classifies an error of a GitHub call and applies a rate limit:
// no request until it ends, and a longer wait after each secondary limit
// in a row.
func (r *Reconciler) fail(err error, what string) *Error {
	e := classify(err, what, r.now(), r.strikes)
	if e.Class == wire.ReconcilerErrorRateLimited {
		r.pause(e.Until)
		if e.secondary {
			r.strikes++
		}
	}
	return e
}

// note records a per-delivery error of the pass: counted, and the last
// one shown on the health page.
func (r *Reconciler) note(rep *Report, e *Error) {
	rep.Errors++
	rep.LastError = e
	r.Metrics.errored(e.Class)
}
