package store

import (
	"time"

	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// Record is the value kept under a target's key in bucket health
// (schemas/health-status.schema.json): the target's latest probe, with the
// status hysteresis decided and since when it has held.
type Record struct {
	Target    string         `json:"target"`
	Kind      string         `json:"kind"`
	Status    status.Status  `json:"status"`
	LatencyMS float64        `json:"latency_ms"`
	Message   string         `json:"message,omitempty"`
	CheckedAt time.Time      `json:"checked_at"`
	Since     time.Time      `json:"since"`
	Details   map[string]any `json:"details,omitempty"`
}

// Transition is the body of health.<target>.<status> in stream HEALTH
// (schemas/health-transition.schema.json), published when a target's
// status changes and only then.
type Transition struct {
	Target               string        `json:"target"`
	Status               status.Status `json:"status"`
	Previous             status.Status `json:"previous"`
	Since                time.Time     `json:"since"`
	PreviousSince        *time.Time    `json:"previous_since,omitempty"`
	DurationInPreviousMS *float64      `json:"duration_in_previous_ms,omitempty"`
	Reason               string        `json:"reason,omitempty"`
	LatencyMS            float64       `json:"latency_ms"`
	CheckedAt            time.Time     `json:"checked_at"`
}

// Millis is d in milliseconds with microsecond precision, as stored.
func Millis(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d.Microseconds()) / 1000
}
