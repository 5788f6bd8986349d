// Package page renders healthmon's status page: server-side HTML with no
// scripts and no external assets, refreshing itself, readable on a laptop
// screen. The same View is served as JSON on /status.json.
package page

import (
	"time"

	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// View is everything the page shows.
type View struct {
	Overall     status.Status `json:"status"`         // the worst status of any target
	GeneratedAt time.Time     `json:"generated_at"`   // when the view was taken
	Refresh     int           `json:"-"`              // seconds between reloads of the page
	Targets     []Target      `json:"targets"`        // worst first, then by name
	Routes      []Route       `json:"routes"`         // by name
	Role        Role          `json:"role,omitempty"` // whether this replica stores and publishes the statuses; "" without NATS
	Console     bool          `json:"-"`              // the operator console is served (/console/): the page links to it
}

// Role is a replica's part in storing and announcing statuses: of several
// healthmon replicas, all probe and one publishes (the lease holder).
type Role string

const (
	Publisher Role = "publisher" // writes bucket health and publishes transitions
	Standby   Role = "standby"   // probes only; another replica publishes
)

// Target is one row of the targets table.
type Target struct {
	Name      string        `json:"target"`
	Kind      string        `json:"kind"`
	Status    status.Status `json:"status"`
	Seen      status.Status `json:"seen,omitempty"` // the last probe's own status when hysteresis has not confirmed it yet
	LatencyMS float64       `json:"latency_ms"`
	Message   string        `json:"message"`
	Since     time.Time     `json:"since"`
	CheckedAt time.Time     `json:"checked_at"`
}

// Route is one row of the routes table.
type Route struct {
	Route       string        `json:"route"`
	Target      string        `json:"target"`
	Stream      string        `json:"stream"`
	Status      status.Status `json:"status"`
	Pending     uint64        `json:"pending"`
	AckPending  int           `json:"ack_pending"`
	Redelivered int           `json:"redelivered"`
	DLQDepth    uint64        `json:"dlq_depth"`
	Advisories  uint64        `json:"max_deliveries_advisories"`
	Waiting     int           `json:"waiting"`
	Replaying   bool          `json:"replaying"`
	ReplayLeft  uint64        `json:"replay_left"`
	LastActive  time.Time     `json:"last_active"`

	DeadLetterTrace    string `json:"last_dead_letter_trace_id,omitempty"`  // the trace id of the route's latest dead letter
	DeadLetterTraceURL string `json:"last_dead_letter_trace_url,omitempty"` // healthmon.trace_url filled with it; "" when not configured
}

// Counts is how many targets have each status, for the summary line.
func (v View) Counts() []Count {
	n := map[status.Status]int{}
	for _, t := range v.Targets {
		n[t.Status]++
	}
	var out []Count
	for _, s := range append([]status.Status{status.Down, status.Critical, status.Warning, status.OK}, status.Unknown) {
		if n[s] > 0 {
			out = append(out, Count{Status: s, N: n[s]})
		}
	}
	return out
}

// Count is a number of targets with one status.
type Count struct {
	Status status.Status
	N      int
}

// Sample is a route's ack floor (its consumer sequence settled so far) at
// one probe: the monitor keeps an hour of them per route, the console
// draws the throughput from them.
type Sample struct {
	At    time.Time
	Acked uint64
}
