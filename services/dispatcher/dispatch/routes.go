package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/services/dispatcher/call"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
)

// routeHandler calls the route's service with each event: the body is the
// route's jq expression on the event (or the event body as is), the
// Idempotency-Key is derived from the route's name and the event's id.
func (d *Dispatcher) routeHandler(spec route.Spec, ch *channel.Channel) (consume.Handler, error) {
	t := spec.Dispatch
	var filter, body *route.Expr
	var err error
	if spec.Filter != "" {
		if filter, err = route.Compile(spec.Filter); err != nil {
			return nil, fmt.Errorf("route %s: filter: %w", spec.Name, err)
		}
	}
	if t.Body != "" {
		if body, err = route.Compile(t.Body); err != nil {
			return nil, fmt.Errorf("route %s: body: %w", spec.Name, err)
		}
	}
	task := t.Task
	if task == "" {
		task = spec.Name
	}
	tc := ch.Config().TaskFor(task)
	base := target{ch: ch, task: task, resultSubject: t.ResultSubject,
		req: call.Request{Path: or(t.Path, tc.Path), Method: strings.ToUpper(or(t.Method, tc.Method)), Response: or(t.Response, tc.Response)}}
	if base.resultSubject == "" {
		base.resultSubject = events.ResultSubject(ch.Name(), task)
	}
	return func(ctx context.Context, m *consume.Msg) error {
		var in route.Input
		if filter != nil || body != nil {
			v, err := route.DecodeBody(m.Event.ContentType, m.Data())
			if err != nil {
				return err
			}
			in = route.Input{Body: v, Subject: m.Subject(), Event: m.Event}
		}
		if filter != nil {
			ok, err := filter.Truthy(ctx, in)
			if err != nil || !ok {
				return err // a false filter acknowledges and skips
			}
		}
		tg := base
		tg.req.Body, tg.req.ContentType = m.Data(), m.Event.ContentType
		if body != nil {
			v, err := body.Eval(ctx, in)
			if err != nil {
				return err
			}
			if tg.req.Body, err = json.Marshal(v); err != nil {
				return events.Permanentf("route %s: encode request body: %w", spec.Name, err)
			}
			tg.req.ContentType = "application/json"
		}
		tg.req.IdempotencyKey = events.StableID(spec.Name, requestID(m))
		_, err := d.execute(ctx, m, tg, nil)
		return err
	}, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
