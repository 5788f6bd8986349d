package wire

import "time"

// BreakerState is a circuit breaker's state, as GET <dispatcher>/breakers
// spells it.
type BreakerState string

// The states of a breaker; these spellings and no others.
const (
	BreakerClosed   BreakerState = "closed"    // calls go through
	BreakerHalfOpen BreakerState = "half-open" // after the cool-down, one call tries the service again
	BreakerOpen     BreakerState = "open"      // calls fail fast until the cool-down ends
)

// BreakersPath is where the dispatcher serves its breakers.
const BreakersPath = "/breakers"

// Breakers is the body of GET <dispatcher>/breakers: each microservice's
// breaker, keyed by service name. The health monitor turns each into
// target breaker-<service>.
type Breakers map[string]Breaker

// Breaker is one microservice's circuit breaker and capacity (the
// dispatcher's channel), also listed under details.breakers of the
// dispatcher's GET /health.
type Breaker struct {
	Service             string       `json:"service"`
	State               BreakerState `json:"state"`
	OpenedAt            time.Time    `json:"opened_at,omitzero"` // when it last opened; only while not closed
	Capacity            int          `json:"capacity"`
	InFlight            int          `json:"in_flight"`
	Requests            uint32       `json:"requests"` // calls counted in the current window (or since half-open)
	TotalFailures       uint32       `json:"total_failures"`
	ConsecutiveFailures uint32       `json:"consecutive_failures"`
}
