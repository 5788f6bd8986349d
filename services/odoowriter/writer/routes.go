package writer

import (
	"context"
	"fmt"
	"runtime"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/services/odoowriter/batch"
	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
)

type compiled struct {
	spec   route.Spec
	mapper *plan.Mapper
}

// compileRoutes compiles every Odoo route; the first error names its route.
func compileRoutes(cfg Config) ([]compiled, error) {
	specs := cfg.odooRoutes()
	out := make([]compiled, 0, len(specs))
	for _, s := range specs {
		m, err := plan.Compile(s)
		if err != nil {
			return nil, err
		}
		out = append(out, compiled{spec: s, mapper: m})
	}
	return out, nil
}

// cmdSpec is the built-in odoo-cmd route.
func cmdSpec(cfg Config) route.Spec {
	c := cfg.CmdRoute.Concurrency
	if c <= 0 {
		c = cfg.concurrency()
	}
	return route.Spec{Name: plan.CommandRoute, Description: "Pulse Hub: Odoo write commands (odoo.cmd.<model>.<op>) for the Odoo writer",
		From:        route.From{Stream: events.StreamOdooCmd, Subjects: []string{"odoo.cmd.>"}},
		Concurrency: c, AckWait: cfg.CmdRoute.AckWait, Retry: cfg.CmdRoute.Retry}
}

// gate bounds the handlers mapping messages into plans at once to the
// cores. With thousands of messages in flight, all of them runnable at
// once would queue the writer's own Odoo calls (encoding a batch, reading
// an answer) behind every one, and Odoo, which serves one call at a time,
// would sit idle while the next batch forms. Waiting handlers hold no CPU.
type gate chan struct{}

func newGate() gate { return make(gate, runtime.GOMAXPROCS(0)) }

// do runs f when a core is free, or returns ctx's error.
func (g gate) do(ctx context.Context, f func() (*plan.Plan, error)) (*plan.Plan, error) {
	select {
	case g <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-g }()
	return f()
}

// routeHandler runs a route's mapping on each message and waits for its
// batch to be written. A false filter gives no plan and no error.
func routeHandler(m *plan.Mapper, b *batch.Batcher, g gate) consume.Handler {
	return func(ctx context.Context, msg *consume.Msg) error {
		p, err := g.do(ctx, func() (*plan.Plan, error) {
			body, err := route.DecodeBody(msg.Event.ContentType, msg.Data())
			if err != nil {
				return nil, err
			}
			in := route.Input{Body: body, Subject: msg.Subject(), Event: msg.Event}
			if skip, err := m.Skip(ctx, in); err != nil || skip {
				return nil, err // a false filter acknowledges and skips
			}
			return m.Plan(ctx, in, eventID(msg), msg.Seq())
		})
		if err != nil || p == nil {
			b.Passed(delivery(msg))
			return wrap(msg, err)
		}
		p.Correlation, p.Backlog, p.Delivery = msg.Event.Correlation(), backlog(msg), delivery(msg)
		return wrap(msg, b.Submit(ctx, p))
	}
}

// cmdHandler runs odoo.cmd.<model>.<op> commands. They come from stream
// ODOO_CMD only (cmdSpec's consumer, or its replay consumer): a command is
// the one message that names its own Odoo model and operation, so nothing
// another stream holds — an event, a result, a dead letter — is taken for
// one, whatever its subject.
func cmdHandler(instance string, b *batch.Batcher, g gate) consume.Handler {
	return func(ctx context.Context, msg *consume.Msg) error {
		if s := msg.Stream(); s != events.StreamOdooCmd {
			return wrap(msg, events.Permanentf("route %s takes commands from stream %s only, not from %q", plan.CommandRoute, events.StreamOdooCmd, s))
		}
		p, err := g.do(ctx, func() (*plan.Plan, error) {
			return plan.FromCommand(msg.Subject(), msg.Event.ContentType, msg.Data(), eventID(msg), msg.Seq(), instance)
		})
		if err != nil {
			b.Passed(delivery(msg))
			return wrap(msg, err)
		}
		p.Correlation, p.Backlog, p.Delivery = msg.Event.Correlation(), backlog(msg), delivery(msg)
		return wrap(msg, b.Submit(ctx, p))
	}
}

// backlog is how many messages waited for the consumer behind msg when it
// was delivered: the batcher lingers for more only while some do.
func backlog(msg *consume.Msg) uint64 {
	if msg.Meta == nil {
		return 0
	}
	return msg.Meta.NumPending
}

// delivery is msg's place among its consumer's deliveries.
func delivery(msg *consume.Msg) plan.Delivery {
	if msg.Meta == nil {
		return plan.Delivery{}
	}
	return plan.Delivery{Consumer: deliveryKey(msg.Meta.Stream, msg.Meta.Consumer), Seq: msg.Meta.Sequence.Consumer}
}

func deliveryKey(stream, consumer string) string { return stream + "/" + consumer }

// eventID is what the external id of a create is derived from: the
// event's id (kept by redeliveries, replays and DLQ requeues), or, for a
// message published without one, its place in the stream.
func eventID(msg *consume.Msg) string {
	if msg.Event.ID != "" {
		return msg.Event.ID
	}
	return fmt.Sprintf("%s-%d", msg.Stream(), msg.Seq())
}

// wrap says which route and message an error is about.
func wrap(msg *consume.Msg, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("route %s: %s seq %d: %w", msg.Route, msg.Subject(), msg.Seq(), err)
}
