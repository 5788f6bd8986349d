package status

import (
	"testing"
	"time"
)

func TestTrackerHysteresis(t *testing.T) {
	tests := []struct {
		name string
		need int
		seen []Status
		want []Status // the status after each result
		flip []bool   // whether each result completed a transition
	}{
		{"a first ok result sets the status at once", 2,
			[]Status{OK}, []Status{OK}, []bool{true}},
		{"a first bad result needs confirming", 2,
			[]Status{Down, Down}, []Status{Unknown, Down}, []bool{false, true}},
		{"an ok result while a first bad one waits wins at once", 2,
			[]Status{Down, OK}, []Status{Unknown, OK}, []bool{false, true}},
		{"first bad results of mixed severity settle on the least bad", 2,
			[]Status{Down, Warning}, []Status{Unknown, Warning}, []bool{false, true}},
		{"one bad probe does not flip, two do", 2,
			[]Status{OK, Critical, Critical}, []Status{OK, OK, Critical}, []bool{true, false, true}},
		{"a good probe between bad ones starts over", 2,
			[]Status{OK, Down, OK, Down, OK}, []Status{OK, OK, OK, OK, OK}, []bool{true, false, false, false, false}},
		{"recovery needs agreement too", 2,
			[]Status{OK, Down, Down, OK, OK}, []Status{OK, OK, Down, Down, OK}, []bool{true, false, true, false, true}},
		{"mixed bad results move to the least bad", 2,
			[]Status{OK, Critical, Warning}, []Status{OK, OK, Warning}, []bool{true, false, true}},
		{"mixed better results move to the least good", 2,
			[]Status{OK, Down, Down, OK, Warning}, []Status{OK, OK, Down, Down, Warning}, []bool{true, false, true, false, true}},
		{"a change of direction starts over", 2,
			[]Status{OK, Warning, Warning, OK, Critical, Critical}, []Status{OK, OK, Warning, Warning, Warning, Critical},
			[]bool{true, false, true, false, false, true}},
		{"three in a row when asked", 3,
			[]Status{OK, Down, Down, Down}, []Status{OK, OK, OK, Down}, []bool{true, false, false, true}},
		{"one means no hysteresis", 1,
			[]Status{OK, Warning, OK}, []Status{OK, Warning, OK}, []bool{true, true, true}},
		{"zero means one", 0,
			[]Status{OK, Down}, []Status{OK, Down}, []bool{true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(tc.need)
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, s := range tc.seen {
				step := tr.Observe("x", s, at.Add(time.Duration(i)*time.Second))
				if step.Status != tc.want[i] || step.Changed != tc.flip[i] {
					t.Fatalf("result %d (%s): status %s changed %v, want %s %v", i, s, step.Status, step.Changed, tc.want[i], tc.flip[i])
				}
			}
		})
	}
}

func TestTrackerSinceAndPrevious(t *testing.T) {
	tr := NewTracker(2)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first := tr.Observe("odoo-main", OK, t0)
	if first.Previous != Unknown || !first.PreviousSince.IsZero() || !first.Since.Equal(t0) {
		t.Fatalf("first step = %+v", first)
	}
	pending := tr.Observe("odoo-main", Down, t0.Add(time.Minute))
	if pending.Changed || pending.Pending != Down || pending.PendingCount != 1 || !pending.Since.Equal(t0) {
		t.Fatalf("pending step = %+v", pending)
	}
	flip := tr.Observe("odoo-main", Down, t0.Add(2*time.Minute))
	// The new status began with the first result that saw it.
	if !flip.Changed || flip.Previous != OK || !flip.PreviousSince.Equal(t0) || !flip.Since.Equal(t0.Add(time.Minute)) {
		t.Fatalf("transition = %+v", flip)
	}
	if again := tr.Observe("odoo-main", Down, t0.Add(3*time.Minute)); again.Changed || again.Pending != "" || !again.Since.Equal(flip.Since) {
		t.Fatalf("steady = %+v", again)
	}
}

func TestTrackerRestoreAndForget(t *testing.T) {
	tr := NewTracker(2)
	since := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	tr.Restore("nats", OK, since)
	tr.Restore("bad", Unknown, since) // not a stored status: ignored
	if step := tr.Observe("nats", OK, since.Add(time.Hour)); step.Changed || !step.Since.Equal(since) {
		t.Fatalf("after restore: %+v", step)
	}
	if step := tr.Observe("nats", Down, since.Add(2*time.Hour)); step.Changed {
		t.Fatalf("one result after a restore flipped: %+v", step)
	}
	if step := tr.Observe("bad", OK, since); !step.Changed || step.Previous != Unknown {
		t.Fatalf("unknown restore kept: %+v", step)
	}
	tr.Forget("nats")
	if step := tr.Observe("nats", OK, since.Add(3*time.Hour)); !step.Changed || step.Previous != Unknown {
		t.Fatalf("forgotten target remembered: %+v", step)
	}
}
