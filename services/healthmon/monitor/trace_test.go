package monitor

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/healthmon/internal/healthtest"
	"github.com/nats-io/nats.go"
)

// A route's latest dead letter carries the failed event's traceparent:
// the page and /status.json show its trace id, linked through trace_url.
func TestAFailingRoutesLatestDeadLetterLinksToItsTrace(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	e := newEnv(t, false)
	healthtest.StuckRoute(t, e.js, "orders") // one dead letter without a trace
	msg := nats.NewMsg(events.DLQSubject("orders", "odoo.event.sale_order.shop"))
	msg.Header.Set(events.HeaderTraceParent, "00-"+id+"-00f067aa0ba902b7-01")
	msg.Data = []byte(`{}`)
	if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	c := testConfig()
	c.TraceURL = "http://jaeger.example:16686/trace/{trace_id}"
	m := newMonitor(t, e, c)
	m.RunOnce(context.Background())
	v := m.View()
	if len(v.Routes) != 1 || v.Routes[0].DeadLetterTrace != id || v.Routes[0].DeadLetterTraceURL != "http://jaeger.example:16686/trace/"+id {
		t.Fatalf("routes = %+v", v.Routes)
	}
	base, stop := start(t, m)
	defer func() { _ = stop() }()
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `<a href="http://jaeger.example:16686/trace/`+id+`">trace `+id+`</a>`) {
		t.Fatalf("the page has no link to the dead letter's trace:\n%s", body)
	}
}
