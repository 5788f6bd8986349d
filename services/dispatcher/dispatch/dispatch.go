// Package dispatch is Pulse Hub's dispatcher: it calls HTTP microservices
// (OCR, LLM, agents) for the events of routes with a dispatch: target and
// for explicit jobs on jobs.<service>.<task>, and publishes each answer on
// results.<service>.<task>. It replaces queue_job's with_delay() and the
// synchronous microservice calls Odoo used to make.
//
// Each route is its own durable consumer; each configured service has one
// more, jobs-<service>, for its jobs. Every call goes through its
// service's channel (package channel): a capacity, a timeout, an auth
// header and a circuit breaker. A message that finds its service
// saturated or its breaker open goes back to JetStream with a delay that
// costs no attempt, and while a breaker is open its service's loops pull
// nothing, so a slow or dead service never holds a worker or another
// service's messages. Calls carry an Idempotency-Key derived from
// the route (or jobs-<service>) and the event's id; successful answers
// are kept in the result cache under it, so a redelivery or a replay is
// answered without calling again. Jobs have their state in the jobs
// bucket (package jobstate).
package dispatch

import (
	"context"

	"github.com/insightpulse/pulsehub/events/service"
)

// Run runs the dispatcher until ctx is done: New, then (*Dispatcher).Run.
func Run(ctx context.Context, deps service.Deps, cfg Config) error {
	d, err := New(ctx, deps, cfg)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}
