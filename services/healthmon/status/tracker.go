package status

import (
	"sync"
	"time"
)

// Tracker decides each target's status from its probes with hysteresis: a
// status changes only after Consecutive results in a row disagree with it
// in the same direction (all worse, or all better). The new status is the
// one of those results closest to the old: after ok, a warning then a
// critical make it warning, since both agree it is at least that bad.
//
// A target with no history starts unknown. An ok result sets it at once;
// a bad one needs confirming like any other change, so a service still
// starting when the hub starts is not announced down.
//
// A Tracker is safe for concurrent use.
type Tracker struct {
	need    int
	mu      sync.Mutex
	targets map[string]*track
}

type track struct {
	status Status
	since  time.Time
	streak []Status  // results that disagree with status, oldest first
	start  time.Time // when the streak began
}

// Step is what one result did to its target.
type Step struct {
	Status        Status    // the target's status after the result
	Since         time.Time // since when it has had it
	Changed       bool      // the result completed a transition
	Previous      Status    // the status before a transition (Unknown for a first result)
	PreviousSince time.Time // when Previous began; zero when Previous is Unknown
	Pending       Status    // a status seen but not yet confirmed; "" when none
	PendingCount  int       // how many results in a row have seen it so far
}

// NewTracker returns a Tracker that changes a status after consecutive
// agreeing results (values below 1 mean 1: no hysteresis).
func NewTracker(consecutive int) *Tracker {
	return &Tracker{need: max(consecutive, 1), targets: map[string]*track{}}
}

// Restore sets a target's status as it was stored before a restart, so the
// first result after it is not a transition from unknown.
func (t *Tracker) Restore(target string, s Status, since time.Time) {
	if !s.Valid() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.targets[target] = &track{status: s, since: since}
}

// Forget drops a target that no longer exists (a deleted route).
func (t *Tracker) Forget(target string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.targets, target)
}

// Observe applies one result, seen at at.
func (t *Tracker) Observe(target string, seen Status, at time.Time) Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.targets[target]
	if tr == nil {
		tr = &track{status: Unknown}
		t.targets[target] = tr
	}
	if tr.status == Unknown && (seen == OK || t.need == 1) {
		tr.status, tr.since, tr.streak = seen, at, tr.streak[:0]
		return Step{Status: seen, Since: at, Changed: true, Previous: Unknown}
	}
	if seen == tr.status {
		tr.streak = tr.streak[:0]
		return Step{Status: tr.status, Since: tr.since}
	}
	worse := seen.Rank() > tr.status.Rank()
	if len(tr.streak) > 0 && (tr.streak[0].Rank() > tr.status.Rank()) != worse {
		tr.streak = tr.streak[:0] // a change of direction starts over
	}
	if len(tr.streak) == 0 {
		tr.start = at
	}
	tr.streak = append(tr.streak, seen)
	if len(tr.streak) < t.need {
		return Step{Status: tr.status, Since: tr.since, Pending: closest(tr.streak, worse), PendingCount: len(tr.streak)}
	}
	step := Step{Status: closest(tr.streak, worse), Since: tr.start, Changed: true, Previous: tr.status, PreviousSince: tr.since}
	tr.status, tr.since, tr.streak = step.Status, step.Since, tr.streak[:0]
	return step
}

// closest is the least change the whole streak agrees on: the best of
// worse results, the worst of better ones.
func closest(streak []Status, worse bool) Status {
	c := streak[0]
	for _, s := range streak[1:] {
		if worse == (s.Rank() < c.Rank()) {
			c = s
		}
	}
	return c
}
