package stream

import (
	"context"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/nats-io/nats.go/jetstream"
)

// lastDeadLetterTraces sets the trace id of the latest dead letter of
// each route that has any: one direct read of the DLQ stream per such
// route. A dead letter keeps its original's headers, so its traceparent
// leads to the failed event's trace. What cannot be read is left empty:
// it only adds a link to the health page.
func lastDeadLetterTraces(ctx context.Context, js jetstream.JetStream, routes []RouteInfo) {
	var dlq jetstream.Stream
	for i := range routes {
		if routes[i].DLQDepth == 0 {
			continue
		}
		if dlq == nil {
			s, err := js.Stream(ctx, events.StreamDLQ)
			if err != nil {
				return
			}
			dlq = s
		}
		m, err := dlq.GetLastMsgForSubject(ctx, events.DLQSubject(routes[i].Route, ">"))
		if err != nil {
			continue
		}
		routes[i].LastDeadLetterTraceID = tracing.TraceID(m.Header.Get(events.HeaderTraceParent))
	}
}
