package page

import (
	"fmt"
	"time"

	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// Human writes d the way a person says it: "4 s", "12 min", "2 h 5 min",
// "3 d 4 h".
func Human(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 24*time.Hour:
		return withRest(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "min")
	}
	return withRest(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
}

func withRest(n int, unit string, rest int, restUnit string) string {
	if rest == 0 {
		return fmt.Sprintf("%d %s", n, unit)
	}
	return fmt.Sprintf("%d %s %d %s", n, unit, rest, restUnit)
}

// Ago is how long before now t was: "just now", "12 s ago", "3 min ago".
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 2*time.Second {
		return "just now"
	}
	return Human(d) + " ago"
}

// Latency writes a probe's latency: "12 ms", "2.35 s".
func Latency(ms float64) string {
	if ms < 1000 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

// Clock writes t in UTC for a person: "2026-01-02 14:03:05 UTC".
func Clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Label is how the page names a status, with a symbol so it does not rely
// on colour alone.
func Label(s status.Status) string {
	switch s {
	case status.OK:
		return "✓ OK"
	case status.Warning:
		return "! Warning"
	case status.Critical:
		return "✕ Critical"
	case status.Down:
		return "▼ Down"
	}
	return "? Unknown"
}
