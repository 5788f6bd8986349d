// Package reconcile asks GitHub to deliver again the App webhook
// deliveries that never reached the hub. GitHub does not retry a failed
// delivery by itself, but keeps the App's deliveries for a few days and
// lets the App ask for a redelivery: every interval the reconciler lists
// the deliveries since its checkpoint (GET /app/hook/deliveries, newest
// first, cursor pages), groups the attempts by delivery GUID, and asks for
// a redelivery (POST /app/hook/deliveries/{id}/attempts) of every GUID
// none of whose attempts succeeded. The redelivery carries the same GUID,
// so the ingester stores it once even if an earlier attempt got through.
//
// This follows GitHub's own guide "Automatically redelivering failed
// deliveries for a GitHub App webhook". The checkpoint
// (wire.ReconcilerCheckpoint) lives in the checkpoints bucket (key
// github-reconciler), so a restart, or another replica, resumes; the
// health monitor reads it too.
package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/ingester/checkpoint"
)

// Defaults for the zero values of Reconciler.
const (
	DefaultInterval = 5 * time.Minute
	DefaultLookback = 72 * time.Hour // GitHub keeps deliveries for about three days
)

// overlap is how far before its checkpoint a pass looks: a delivery is
// listed once it has finished (up to GitHub's 10 s timeout) with the time
// it started.
const overlap = time.Minute

// maxPages bounds one pass.
const maxPages = 500

// Report is what one pass did.
type Report struct {
	Scanned     int      // deliveries listed in the window
	Failed      []string // GUIDs with no successful attempt
	Redelivered []string // GUIDs whose redelivery was asked for
	Skipped     []string // failed GUIDs not asked again: every attempt was refused as malformed or too large
}

// Reconciler runs the passes.
type Reconciler struct {
	Apps        *github.AppsService // the App-authenticated client's Apps (NewClient)
	Checkpoints *checkpoint.Store
	Interval    time.Duration // between passes; default 5m
	Lookback    time.Duration // the oldest deliveries looked at; default 72h
	PageSize    int           // deliveries per list request; default 100 (GitHub's most)
	Log         *slog.Logger
	Metrics     *Metrics         // may be nil
	Now         func() time.Time // default time.Now
}

// Run reconciles at once and then every Interval until ctx is done.
func (r *Reconciler) Run(ctx context.Context) error {
	interval := cmp.Or(r.Interval, DefaultInterval)
	r.Log.Info("github reconciler started", "interval", interval.String(), "lookback", cmp.Or(r.Lookback, DefaultLookback).String())
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.Reconcile(ctx); err != nil && ctx.Err() == nil {
			r.Metrics.failed()
			r.Log.Warn("github reconciler pass failed; the next one starts from the same checkpoint", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context) (Report, error) {
	var m wire.ReconcilerCheckpoint
	found, err := r.Checkpoints.Load(ctx, wire.ReconcilerKey, &m)
	if err != nil {
		return Report{}, err
	}
	began := r.now()
	oldest := began.Add(-cmp.Or(r.Lookback, DefaultLookback))
	since := oldest
	if found && m.Since.Add(-overlap).After(oldest) {
		since = m.Since.Add(-overlap)
	}
	deliveries, err := r.list(ctx, since)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Scanned: len(deliveries)}
	for _, f := range failures(deliveries) {
		rep.Failed = append(rep.Failed, f.guid)
		if !f.worthRedelivering() {
			rep.Skipped = append(rep.Skipped, f.guid)
			r.Log.Warn("github delivery failed and will not be asked again: every attempt was refused as malformed or too large",
				"correlation_id", f.guid, "event", f.latest.GetEvent(), "status_code", f.latest.GetStatusCode())
			continue
		}
		if err := r.redeliver(ctx, f); err != nil {
			r.Metrics.report(rep, false)
			return rep, err // the checkpoint stays: the next pass asks again
		}
		rep.Redelivered = append(rep.Redelivered, f.guid)
	}
	r.Metrics.report(rep, true)
	next := wire.ReconcilerCheckpoint{Since: began.UTC(), Failed: len(rep.Failed), Redelivered: len(rep.Redelivered), At: r.now().UTC()}
	if err := r.Checkpoints.Save(ctx, wire.ReconcilerKey, next); err != nil {
		return rep, err
	}
	if len(rep.Failed) > 0 {
		r.Log.Info("github reconciler pass", "scanned", rep.Scanned, "failed", len(rep.Failed),
			"redelivered", len(rep.Redelivered), "skipped", len(rep.Skipped))
	}
	return rep, nil
}

// list returns the deliveries that started at or after since, following
// the cursor pages (GitHub lists newest first).
func (r *Reconciler) list(ctx context.Context, since time.Time) ([]*github.HookDelivery, error) {
	var out []*github.HookDelivery
	opts := &github.ListCursorOptions{PerPage: cmp.Or(r.PageSize, 100)}
	for page := 0; page < maxPages; page++ {
		ds, resp, err := r.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list app hook deliveries (cursor %q): %w", opts.Cursor, err)
		}
		for _, d := range ds {
			if d.GetDeliveredAt().Before(since) {
				return out, nil
			}
			out = append(out, d)
		}
		if resp.Cursor == "" {
			return out, nil
		}
		opts.Cursor = resp.Cursor
	}
	r.Log.Warn("github reconciler stopped listing after the page limit", "pages", maxPages)
	return out, nil
}

// redeliver asks GitHub to deliver f's latest attempt again. GitHub
// answers 202 Accepted, which go-github reports as *AcceptedError.
func (r *Reconciler) redeliver(ctx context.Context, f failure) error {
	_, _, err := r.Apps.RedeliverHookDelivery(ctx, f.latest.GetID())
	var accepted *github.AcceptedError
	if err != nil && !errors.As(err, &accepted) {
		return fmt.Errorf("redeliver github delivery %s (attempt %d): %w", f.guid, f.latest.GetID(), err)
	}
	r.Metrics.redelivered()
	r.Log.Info("asked GitHub to redeliver a failed delivery", "correlation_id", f.guid,
		"event", f.latest.GetEvent(), "attempts", f.attempts, "status_code", f.latest.GetStatusCode())
	return nil
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
