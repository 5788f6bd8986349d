// Package status is what a health target's status is and how it may
// change: the four statuses and their order, latency thresholds, and the
// hysteresis that changes a target's status only after several
// consecutive probes agree, so one slow answer does not flap it.
package status

import "fmt"

// Status is a target's health, best first. Unknown is a target never
// probed since healthmon started with an empty history; it is never stored.
type Status string

// The statuses, best first.
const (
	Unknown  Status = "unknown"
	OK       Status = "ok"       // healthy
	Warning  Status = "warning"  // working but degraded: slow, lagging, dead letters
	Critical Status = "critical" // answering but failing: errors, a breaker open
	Down     Status = "down"     // not answering at all
)

// All lists the statuses a probe can report, best first.
var All = []Status{OK, Warning, Critical, Down}

// Rank orders statuses: -1 unknown, 0 ok, 1 warning, 2 critical, 3 down.
// It is also the value of the per-target status gauge.
func (s Status) Rank() int {
	switch s {
	case OK:
		return 0
	case Warning:
		return 1
	case Critical:
		return 2
	case Down:
		return 3
	}
	return -1
}

// Valid reports whether s is one of All.
func (s Status) Valid() bool { return s.Rank() >= 0 }

// Failing reports whether s makes the aggregate unhealthy (critical or down).
func (s Status) Failing() bool { return s == Critical || s == Down }

// Parse reads a status as written in the KV bucket and on subjects.
func Parse(v string) (Status, error) {
	s := Status(v)
	if !s.Valid() && s != Unknown {
		return "", fmt.Errorf("unknown status %q (want ok, warning, critical or down)", v)
	}
	return s, nil
}

// Worst returns the worse of a and b; Unknown loses to any known status.
func Worst(a, b Status) Status {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}
