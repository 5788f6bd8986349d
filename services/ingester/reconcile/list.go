package reconcile

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/insightpulse/pulsehub/events/wire"
)

// listing is what a pass listed, and where the next one goes on.
type listing struct {
	deliveries []*github.HookDelivery
	complete   bool   // every delivery down to the lower bound was listed
	cursor     string // !complete: GitHub's cursor where the listing stopped
	pages      int    // list requests made
}

// window lists the deliveries a pass looks at and says how the
// checkpoint moves. Without a backlog it lists from the newest delivery
// down to since (less the overlap). With one, it lists down to the
// backlog's upper end first, then goes on from the backlog's cursor down
// to since. The page budget (MaxPages) covers both; what it leaves out is
// the next pass's backlog, so no delivery is passed over.
func (r *Reconciler) window(ctx context.Context, cp wire.ReconcilerCheckpoint, began time.Time) (
	ds []*github.HookDelivery, next wire.ReconcilerCheckpoint, err error) {
	oldest := began.Add(-r.lookback())
	since := cp.Since
	if since.Before(oldest) {
		since = oldest
	}
	bound := func(t time.Time) time.Time {
		if b := t.Add(-r.overlap()); b.After(oldest) {
			return b
		}
		return oldest
	}
	next = cp
	budget := r.maxPages()
	if cp.BacklogCursor == "" {
		l, err := r.list(ctx, "", bound(since), budget)
		if err != nil {
			return nil, cp, err
		}
		if l.complete {
			next.Since, next.BacklogCursor, next.BacklogFrom = began, "", time.Time{}
		} else {
			next.Since, next.BacklogCursor, next.BacklogFrom = since, l.cursor, began
		}
		return l.deliveries, next, nil
	}
	top, err := r.list(ctx, "", bound(cp.BacklogFrom), budget)
	if err != nil {
		return nil, cp, err
	}
	if !top.complete {
		// Newer deliveries alone took the budget (or the rate limit
		// stopped the listing): the backlog waits, and the next pass lists
		// the top again from the newest.
		r.Log.Warn("github reconciler: the listing did not reach the backlog (page budget or rate limit); "+
			"if this repeats, more deliveries come in per interval than a pass lists", "max_pages", budget, "backlog_from", cp.BacklogFrom)
		return top.deliveries, cp, nil
	}
	back := listing{cursor: cp.BacklogCursor}
	if budget-top.pages > 0 && !r.paused() {
		back, err = r.list(ctx, cp.BacklogCursor, bound(since), budget-top.pages)
		var answer *github.ErrorResponse
		if errors.As(err, &answer) && answer.Response != nil && answer.Response.StatusCode == http.StatusUnprocessableEntity {
			// GitHub no longer takes the cursor: start the backlog again
			// from the newest delivery on the next pass.
			r.Log.Warn("github reconciler: GitHub refused the backlog's cursor; the next pass lists from the newest delivery down to the checkpoint",
				"error", err.Error())
			next.BacklogCursor, next.BacklogFrom = "", time.Time{}
			return top.deliveries, next, nil
		}
		if err != nil {
			return nil, cp, err
		}
	}
	ds = append(top.deliveries, back.deliveries...)
	if back.complete {
		next.Since, next.BacklogCursor, next.BacklogFrom = began, "", time.Time{}
	} else {
		next.BacklogCursor, next.BacklogFrom = back.cursor, began
	}
	return ds, next, nil
}

// list follows GitHub's cursor pages from cursor ("" = the newest
// delivery) until a page reaches below bound (that page is kept whole:
// a delivery GitHub lists out of order is still seen), the last page, or
// the page budget. It stops early, as if the budget were spent, when
// GitHub's rate limit is nearly spent.
func (r *Reconciler) list(ctx context.Context, cursor string, bound time.Time, budget int) (listing, error) {
	l := listing{cursor: cursor}
	opts := &github.ListCursorOptions{PerPage: cmp.Or(r.PageSize, 100), Cursor: cursor}
	for l.pages < budget {
		if err := r.gate(); err != nil {
			return l, err
		}
		ds, resp, err := r.Apps.ListHookDeliveries(ctx, opts)
		l.pages++
		r.watchRate(resp)
		if err != nil {
			return l, r.fail(err, "list app hook deliveries (cursor "+quote(opts.Cursor)+")")
		}
		l.deliveries = append(l.deliveries, ds...)
		if len(ds) == 0 || resp.Cursor == "" || ds[len(ds)-1].GetDeliveredAt().Before(bound) {
			l.complete = true
			return l, nil
		}
		opts.Cursor = resp.Cursor
		l.cursor = resp.Cursor
		if r.paused() {
			break // the rate limit is nearly spent: the rest is the backlog
		}
	}
	if l.pages >= budget {
		r.Log.Warn("github reconciler stopped listing at its page budget; the next pass goes on from there",
			"max_pages", budget, "cursor", l.cursor)
	}
	return l, nil
}

func quote(s string) string { return `"` + s + `"` }
