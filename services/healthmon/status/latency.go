package status

import (
	"fmt"
	"time"
)

// Latency grades how long a probe took. A zero threshold never trips.
type Latency struct {
	Warning  time.Duration // at or above: warning (the operators' standard is 2s)
	Critical time.Duration // at or above: critical (5s)
}

// Grade returns the status d earns and, when it is not ok, why.
func (l Latency) Grade(d time.Duration) (Status, string) {
	switch {
	case l.Critical > 0 && d >= l.Critical:
		return Critical, fmt.Sprintf("slow: answered in %s (critical from %s)", Round(d), l.Critical)
	case l.Warning > 0 && d >= l.Warning:
		return Warning, fmt.Sprintf("slow: answered in %s (warning from %s)", Round(d), l.Warning)
	}
	return OK, ""
}

// Round shortens d for a message a person reads: milliseconds below a
// second, two decimals above.
func Round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}
