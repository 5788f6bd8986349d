package probe

import (
	"context"
	"fmt"
	"sync"

	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/nats-io/nats.go/jetstream"
)

// RouteThresholds grade a route's consumer. A zero threshold is off.
type RouteThresholds struct {
	LagWarning         uint64 `yaml:"lag_warning"`         // messages stored but not yet delivered; default 1000
	LagCritical        uint64 `yaml:"lag_critical"`        // default 10000
	AckPendingWarning  int    `yaml:"ack_pending_warning"` // messages delivered and awaiting ack; default 500 (half the consumer's max ack pending)
	RedeliveredWarning int    `yaml:"redelivered_warning"` // messages delivered more than once, awaiting ack; default 10
	DLQWarning         uint64 `yaml:"dlq_warning"`         // dead letters of the route; default 1 (any dead letter)
	DLQCritical        uint64 `yaml:"dlq_critical"`        // default 100
}

// DefaultRouteThresholds are the thresholds of the operators' standard.
func DefaultRouteThresholds() RouteThresholds {
	return RouteThresholds{LagWarning: 1000, LagCritical: 10000, AckPendingWarning: 500, RedeliveredWarning: 10,
		DLQWarning: 1, DLQCritical: 100}
}

// Routes probes every route: each durable consumer on the hub's streams,
// found anew at every check, so a route added or deleted needs no config.
// Its target is "route-<route>" of kind consumer.
type Routes struct {
	JS         jetstream.JetStream
	Thresholds RouteThresholds
	Advisories *Advisories // optional: MAX_DELIVERIES advisories seen per consumer
	Clock      Clock       // default time.Now

	mu        sync.Mutex
	delivered map[string]uint64 // each route's delivered sequence at the last check
}

// Name is "routes".
func (p *Routes) Name() string { return "routes" }

// Check lists the routes with their state and DLQ depth; an error means
// JetStream could not list them.
func (p *Routes) Check(ctx context.Context) ([]Result, error) {
	start := p.Clock.Now()
	infos, err := stream.Routes(ctx, p.JS)
	took := p.Clock.Now().Sub(start)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	out := make([]Result, 0, len(infos))
	p.mu.Lock()
	last := p.delivered
	p.delivered = make(map[string]uint64, len(infos))
	for _, ri := range infos {
		p.delivered[ri.Route] = ri.Delivered
	}
	p.mu.Unlock()
	for i := range infos {
		r := p.grade(infos[i], last)
		r.CheckedAt, r.Latency = start, took
		out = append(out, r)
	}
	return out, nil
}

// RouteTarget is the target name of a route.
func RouteTarget(route string) string { return TargetName("route", route) }

func (p *Routes) grade(ri stream.RouteInfo, last map[string]uint64) Result {
	t := p.Thresholds
	r := Result{Target: RouteTarget(ri.Route), Kind: KindConsumer, Status: status.OK, Route: &ri}
	var why []string
	worse := func(s status.Status, format string, args ...any) {
		r.Status = status.Worst(r.Status, s)
		why = append(why, fmt.Sprintf(format, args...))
	}
	switch {
	case t.LagCritical > 0 && ri.Pending >= t.LagCritical:
		worse(status.Critical, "%d messages pending (critical from %d)", ri.Pending, t.LagCritical)
	case t.LagWarning > 0 && ri.Pending >= t.LagWarning:
		worse(status.Warning, "%d messages pending (warning from %d)", ri.Pending, t.LagWarning)
	}
	if t.AckPendingWarning > 0 && ri.AckPending >= t.AckPendingWarning {
		worse(status.Warning, "%d messages awaiting ack (warning from %d)", ri.AckPending, t.AckPendingWarning)
	}
	if t.RedeliveredWarning > 0 && ri.Redelivered >= t.RedeliveredWarning {
		worse(status.Warning, "%d messages redelivered (warning from %d)", ri.Redelivered, t.RedeliveredWarning)
	}
	switch {
	case t.DLQCritical > 0 && ri.DLQDepth >= t.DLQCritical:
		worse(status.Critical, "%d dead letters (critical from %d)", ri.DLQDepth, t.DLQCritical)
	case t.DLQWarning > 0 && ri.DLQDepth >= t.DLQWarning:
		worse(status.Warning, "%d dead letters (warning from %d)", ri.DLQDepth, t.DLQWarning)
	}
	if ri.Pending > 0 && !taking(ri, last) {
		why = append(why, "no service is pulling from it")
	}
	if ri.Replaying {
		why = append(why, fmt.Sprintf("replaying, %d left", ri.ReplayLeft))
	}
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("%d pending, %d awaiting ack, %d dead letters", ri.Pending, ri.AckPending, ri.DLQDepth))
	}
	r.Message = joinMessage(why...)
	r.Details = routeDetails(ri)
	if p.Advisories != nil {
		r.Details["max_deliveries_advisories"] = p.Advisories.Count(ri.Stream, ri.Route)
	}
	return r
}

func routeDetails(ri stream.RouteInfo) map[string]any {
	d := map[string]any{
		"route": ri.Route, "stream": ri.Stream, "subjects": ri.Subjects,
		"num_pending": ri.Pending, "num_ack_pending": ri.AckPending, "num_redelivered": ri.Redelivered,
		"num_waiting": ri.Waiting, "dlq_depth": ri.DLQDepth, "replaying": ri.Replaying,
	}
	if !ri.LastActive.IsZero() {
		d["last_active"] = ri.LastActive
	}
	if ri.Replaying {
		d["replay_left"] = ri.ReplayLeft
	}
	return d
}

// taking reports whether a service takes the route's messages: its
// delivered sequence moved since the last check, or (first check) a pull
// is waiting or messages are being handled. A busy service may have no
// pull waiting at the moment of a check (all its workers are handling
// messages), so num_waiting alone would say "nobody" of a healthy writer.
func taking(ri stream.RouteInfo, last map[string]uint64) bool {
	if prev, ok := last[ri.Route]; ok {
		return ri.Delivered != prev || ri.Waiting > 0
	}
	return ri.Waiting > 0 || ri.AckPending > 0
}
