// Package reconcile asks GitHub to deliver again the App webhook
// deliveries that never reached the hub. GitHub does not retry a failed
// delivery by itself, but keeps the App's deliveries for three days and
// lets the App ask for a redelivery: every interval the reconciler lists
// the deliveries since its checkpoint (GET /app/hook/deliveries, newest
// first, cursor pages), groups the attempts by delivery GUID, keeps every
// GUID none of whose attempts succeeded in KV bucket github-redeliveries,
// and asks for a redelivery (POST /app/hook/deliveries/{id}/attempts) of
// those that are due. The redelivery carries the same GUID, so the
// ingester stores it once even if an earlier attempt got through (the
// GITHUB stream's duplicate window covers the lookback).
//
// What GitHub does, and what the reconciler does about it:
//
//   - A refused redelivery (422: too old, unknown) is recorded and not
//     asked again; any other error about one delivery is recorded and
//     that delivery is asked again later. Neither stops the pass: the
//     next delivery is asked.
//   - Failed deliveries are asked newest first, at most MaxPerPass a pass
//     and MaxPerMinute a minute, each GUID again only after a backoff that
//     doubles (Backoff up to MaxBackoff): an outage of the hub costs a few
//     requests per GUID, not one per pass.
//   - Rate limits: X-RateLimit-* are read on every answer (requests stop
//     when the budget is nearly spent, until its reset); 403 and 429 with
//     Retry-After (secondary limits) stop requests for that long.
//   - Retention: GitHub redelivers deliveries of the past three days only;
//     the lookback (70 h by default) stays below that, and a record older
//     than the lookback is dropped.
//   - Late listing: a delivery may be listed some time after its
//     delivered_at; each pass looks Overlap before its checkpoint, and
//     keeps whole the page that crosses it.
//   - The page budget (MaxPages) never loses a delivery: where it stopped
//     (GitHub's cursor) is the next pass's backlog, and the checkpoint
//     does not move until the backlog is listed.
//   - A 401 for the JWT's time claims (the hub's clock is off) is
//     reported as such, in the log and, through the checkpoint, on the
//     health page.
//
// This follows GitHub's guide "Automatically redelivering failed
// deliveries for a GitHub App webhook". The checkpoint
// (wire.ReconcilerCheckpoint) lives in the checkpoints bucket (key
// github-reconciler), so a restart, or another replica, resumes; the
// health monitor reads it too.
package reconcile

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/ingester/checkpoint"
)

// Defaults for the zero values of Reconciler.
const (
	DefaultInterval     = 5 * time.Minute
	DefaultLookback     = 70 * time.Hour // GitHub redelivers deliveries of the past 72 h: two hours of margin
	DefaultOverlap      = 15 * time.Minute
	DefaultMaxPages     = 100 // of 100 deliveries: 10,000 deliveries a pass
	DefaultMaxPerPass   = 100
	DefaultMaxPerMinute = 30 // GitHub asks for a second at least between mutating requests
	DefaultBackoff      = 10 * time.Minute
	DefaultMaxBackoff   = 6 * time.Hour // GitHub's own example reconciles every 6 h
)

// Retention is how old a delivery GitHub still redelivers.
const Retention = 72 * time.Hour

// Report is what one pass did.
type Report struct {
	Scanned     int      // deliveries listed
	Failed      []string // GUIDs with no successful attempt known (the records), newest first
	Redelivered []string // GUIDs whose redelivery was asked for and accepted
	Skipped     []string // of Failed, not asked: every attempt was refused by the ingester as malformed or too large
	Refused     []string // GUIDs GitHub refused to redeliver in this pass (they are not asked again)
	Retrying    []string // GUIDs whose redelivery request failed in this pass (asked again after a backoff)
	Delivered   []string // GUIDs with a record whose successful attempt this pass saw
	Expired     []string // records dropped in this pass: older than the lookback
	Deferred    int      // due GUIDs left for a later pass (per-pass bound, rate limit)
	Pending     int      // of Failed, still to be asked for or awaited
	Errors      int      // per-delivery errors
	LastError   *Error   // the last of them
}

// Reconciler runs the passes.
type Reconciler struct {
	Apps         *github.AppsService // the App-authenticated client's Apps (NewClient)
	Checkpoints  *checkpoint.Store
	Records      *Records      // failed deliveries (OpenRecords)
	Interval     time.Duration // between passes; default 5m
	Lookback     time.Duration // the oldest deliveries looked at, and how long a failed one is kept; default 70h
	Overlap      time.Duration // each pass looks this far before its checkpoint; default 15m
	PageSize     int           // deliveries per list request; default 100 (GitHub's most)
	MaxPages     int           // list requests per pass; default 100
	MaxPerPass   int           // redelivery requests per pass; default 100
	MaxPerMinute int           // redelivery requests per minute, evenly spaced; default 30
	Backoff      time.Duration // before a GUID is asked again; doubles each time; default 10m
	MaxBackoff   time.Duration // default 6h
	Log          *slog.Logger
	Metrics      *Metrics         // may be nil
	Now          func() time.Time // default time.Now

	// Kept between passes of this replica: GitHub's rate limit, the
	// secondary limits in a row, the last redelivery request (pacing).
	pausedUntil time.Time
	strikes     int
	lastPost    time.Time
}

// Run reconciles at once and then every Interval until ctx is done.
func (r *Reconciler) Run(ctx context.Context) error {
	interval := cmp.Or(r.Interval, DefaultInterval)
	r.Log.Info("github reconciler started", "interval", interval.String(), "lookback", r.lookback().String(),
		"overlap", r.overlap().String(), "max_per_pass", r.maxPerPass(), "max_per_minute", r.maxPerMinute())
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.Reconcile(ctx); err != nil && ctx.Err() == nil {
			r.logFailure(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (r *Reconciler) logFailure(err error) {
	var e *Error
	if errors.As(err, &e) && e.waiting() {
		r.Log.Info("github reconciler pass skipped: waiting for GitHub's rate limit", "until", e.Until.UTC())
		return
	}
	r.Metrics.failed()
	if !errors.As(err, &e) {
		r.Log.Warn("github reconciler pass failed; the next one starts from the same checkpoint", "error", err.Error())
		return
	}
	level := slog.LevelWarn
	if e.Class == wire.ReconcilerErrorJWTClock || e.Class == wire.ReconcilerErrorUnauthorized {
		level = slog.LevelError // no pass can work until someone acts
	}
	r.Log.Log(context.Background(), level, "github reconciler pass failed; the next one starts from the same checkpoint",
		"error_class", e.Class, "error", e.Msg)
}

// Reconcile runs one pass. A pass that fails leaves the checkpoint's
// position as it was and writes the error into it.
func (r *Reconciler) Reconcile(ctx context.Context) (Report, error) {
	var cp wire.ReconcilerCheckpoint
	if _, err := r.Checkpoints.Load(ctx, wire.ReconcilerKey, &cp); err != nil {
		return Report{}, err
	}
	r.pause(cp.PausedUntil) // a limit met by another replica, or before a restart
	rep, next, err := r.pass(ctx, cp)
	if err != nil {
		if ctx.Err() != nil {
			return rep, err
		}
		var e *Error
		if errors.As(err, &e) && e.ends() {
			if !e.waiting() {
				r.Metrics.errored(e.Class)
			}
			cp.ErrorClass, cp.Error, cp.ErrorAt, cp.Errors = e.Class, e.Msg, r.now().UTC(), rep.Errors+1
			cp.PausedUntil = r.pausedNow()
			return rep, errors.Join(err, r.Checkpoints.Save(ctx, wire.ReconcilerKey, cp))
		}
		return rep, err
	}
	r.Metrics.report(rep)
	if err := r.Checkpoints.Save(ctx, wire.ReconcilerKey, next); err != nil {
		return rep, err
	}
	if len(rep.Failed) > 0 || rep.Errors > 0 {
		r.Log.Info("github reconciler pass", "scanned", rep.Scanned, "failed", len(rep.Failed), "pending", rep.Pending,
			"redelivered", len(rep.Redelivered), "refused", len(rep.Refused), "skipped", len(rep.Skipped),
			"deferred", rep.Deferred, "errors", rep.Errors)
	}
	return rep, nil
}

// pass lists, merges what it listed into the records, asks for the due
// ones, and returns the next checkpoint.
func (r *Reconciler) pass(ctx context.Context, cp wire.ReconcilerCheckpoint) (Report, wire.ReconcilerCheckpoint, error) {
	var rep Report
	if err := r.gate(); err != nil {
		return rep, cp, err
	}
	began := r.now()
	ds, next, err := r.window(ctx, cp, began)
	if err != nil {
		return rep, cp, err
	}
	rep.Scanned = len(ds)
	recs, err := r.Records.all(ctx)
	if err != nil {
		return rep, cp, err
	}
	if err := r.merge(ctx, &rep, recs, group(ds), began); err != nil {
		return rep, cp, err
	}
	askErr := r.askAll(ctx, &rep, due(recs, began))
	var e *Error
	switch {
	case askErr == nil:
	case errors.As(askErr, &e) && e.Class == wire.ReconcilerErrorRateLimited:
		r.note(&rep, e) // what was listed is recorded: the pass is complete, the rest waits for the limit
	default:
		return rep, cp, askErr
	}
	r.summarise(&rep, recs)
	next.Failed, next.Pending, next.Refused = len(rep.Failed), rep.Pending, len(recs)-rep.Pending
	next.Redelivered, next.Errors, next.At = len(rep.Redelivered), rep.Errors, r.now().UTC()
	next.ErrorClass, next.Error, next.ErrorAt = "", "", time.Time{}
	if rep.LastError != nil {
		next.ErrorClass, next.Error, next.ErrorAt = rep.LastError.Class, rep.LastError.Msg, r.now().UTC()
	}
	next.PausedUntil = r.pausedNow()
	return rep, next, nil
}

// merge brings the records up to date with a listing: a GUID with a
// successful attempt is done, a failed one is recorded (or its record
// gets the newest attempt), and a record older than the lookback is
// dropped. recs is updated in place.
func (r *Reconciler) merge(ctx context.Context, rep *Report, recs map[string]*record, listed map[string]*delivery, began time.Time) error {
	guids := make([]string, 0, len(listed))
	for guid := range listed {
		guids = append(guids, guid)
	}
	sort.Strings(guids)
	for _, guid := range guids {
		d := listed[guid]
		rec, known := recs[guid]
		if d.succeeded {
			if known {
				if err := r.Records.remove(ctx, guid); err != nil {
					return err
				}
				delete(recs, guid)
				rep.Delivered = append(rep.Delivered, guid)
				if rec.Asked > 0 {
					r.Log.Info("a redelivered delivery reached the hub", "correlation_id", guid, "asked", rec.Asked)
				}
			}
			continue
		}
		if !known {
			rec = &record{GUID: guid, Event: d.latest.GetEvent(), State: statePending, FirstSeen: d.first.GetDeliveredAt().UTC()}
			if d.rejected {
				rec.State = stateRejected
				r.Log.Warn("github delivery failed and will not be asked again: every attempt was refused as malformed or too large",
					"correlation_id", guid, "event", rec.Event, "status_code", d.latest.GetStatusCode())
			}
			recs[guid] = rec
		} else if !r.update(rec, d) {
			continue
		}
		if !known || d.latest.GetDeliveredAt().After(rec.LastAttempt) {
			rec.DeliveryID, rec.LastAttempt, rec.StatusCode = d.latest.GetID(), d.latest.GetDeliveredAt().UTC(), d.latest.GetStatusCode()
		}
		if err := r.Records.put(ctx, rec); err != nil {
			return err
		}
	}
	oldest := began.Add(-r.lookback())
	for guid, rec := range recs {
		if rec.FirstSeen.Before(oldest) {
			if err := r.Records.remove(ctx, guid); err != nil {
				return err
			}
			delete(recs, guid)
			rep.Expired = append(rep.Expired, guid)
			r.Metrics.expired()
			if rec.State == statePending {
				r.Log.Warn("gave up on a failed GitHub delivery: older than the lookback, too close to GitHub's retention to redeliver",
					"correlation_id", guid, "event", rec.Event, "first_seen", rec.FirstSeen, "asked", rec.Asked, "lookback", r.lookback().String())
			}
		}
	}
	return nil
}

// update folds a listing's attempts into a known record; false when
// nothing changed.
func (r *Reconciler) update(rec *record, d *delivery) bool {
	changed := false
	if first := d.first.GetDeliveredAt().UTC(); first.Before(rec.FirstSeen) {
		rec.FirstSeen, changed = first, true
	}
	if d.latest.GetID() != rec.DeliveryID && d.latest.GetDeliveredAt().After(rec.LastAttempt) {
		changed = true
		if rec.State == stateRejected && !rejectedForGood(d.latest.GetStatusCode()) {
			rec.State = statePending // an attempt failed otherwise: worth asking
		}
	}
	return changed
}

// summarise fills the report's view of the records.
func (r *Reconciler) summarise(rep *Report, recs map[string]*record) {
	all := make([]*record, 0, len(recs))
	for _, rec := range recs {
		all = append(all, rec)
	}
	slices.SortFunc(all, newestFirst)
	for _, rec := range all {
		rep.Failed = append(rep.Failed, rec.GUID)
		switch rec.State {
		case statePending:
			rep.Pending++
		case stateRejected:
			rep.Skipped = append(rep.Skipped, rec.GUID)
		}
	}
	rep.Failed = slices.Clip(rep.Failed)
}

// pausedNow is the pause to write into the checkpoint: this replica's,
// if it is still on, else none.
func (r *Reconciler) pausedNow() time.Time {
	if r.paused() {
		return r.pausedUntil.UTC()
	}
	return time.Time{}
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) lookback() time.Duration { return cmp.Or(r.Lookback, DefaultLookback) }
func (r *Reconciler) overlap() time.Duration  { return cmp.Or(r.Overlap, DefaultOverlap) }
func (r *Reconciler) maxPages() int           { return cmp.Or(r.MaxPages, DefaultMaxPages) }
func (r *Reconciler) maxPerPass() int         { return cmp.Or(r.MaxPerPass, DefaultMaxPerPass) }
func (r *Reconciler) maxPerMinute() int       { return cmp.Or(r.MaxPerMinute, DefaultMaxPerMinute) }
