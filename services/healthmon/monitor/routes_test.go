package monitor

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/healthmon/internal/healthtest"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRouteLagAndDeadLettersFromJetStream(t *testing.T) {
	e := newEnv(t, false)
	healthtest.StuckRoute(t, e.js, "orders")
	c := testConfig()
	c.Routes.LagWarning, c.Routes.LagCritical = 3, 10
	m := newMonitor(t, e, c)
	ctx := context.Background()
	m.RunOnce(ctx) // a first warning waits for a second result to agree
	if s := statusOf(m, "route-orders"); s != status.Unknown {
		t.Fatalf("one result decided the route is %s", s)
	}
	m.RunOnce(ctx)

	v := m.View()
	if len(v.Routes) != 1 {
		t.Fatalf("routes = %+v", v.Routes)
	}
	r := v.Routes[0]
	if r.Route != "orders" || r.Target != "route-orders" || r.Stream != events.StreamOdoo || r.Pending != 3 || r.AckPending != 2 ||
		r.DLQDepth != 1 || r.Status != status.Warning {
		t.Fatalf("route = %+v", r)
	}
	hist := history(t, e.js, "route-orders")
	if len(hist) != 1 || hist[0].Kind != "consumer" || hist[0].Details["num_pending"] != 3.0 || hist[0].Details["dlq_depth"] != 1.0 ||
		!strings.Contains(hist[0].Message, "3 messages pending (warning from 3)") || !strings.Contains(hist[0].Message, "1 dead letters") {
		t.Fatalf("stored = %+v", hist)
	}
	if err := schemas.ValidateValue("health-status", hist[0]); err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]float64{
		"pending": gaugeValue(m.metrics.pending.WithLabelValues("orders", "ODOO")), "ack": gaugeValue(m.metrics.ackPending.WithLabelValues("orders", "ODOO")),
		"dlq": gaugeValue(m.metrics.dlq.WithLabelValues("orders", "ODOO")), "status": gaugeValue(m.metrics.status.WithLabelValues("route-orders", "consumer")),
	} {
		if want := map[string]float64{"pending": 3, "ack": 2, "dlq": 1, "status": 1}[name]; g != want {
			t.Errorf("gauge %s = %v, want %v", name, g, want)
		}
	}

	// The route is deleted: its target goes, its history stays.
	if err := e.js.DeleteConsumer(ctx, events.StreamOdoo, "orders"); err != nil {
		t.Fatal(err)
	}
	m.RunOnce(ctx)
	if _, ok := viewTarget(m.View(), "route-orders"); ok || len(m.View().Routes) != 0 {
		t.Fatalf("deleted route still shown: %+v", m.View())
	}
	if got, _ := m.store.Load(ctx); got["route-orders"].Target != "" {
		t.Fatalf("deleted route still has a current value: %+v", got["route-orders"])
	}
	if got := history(t, e.js, "route-orders"); len(got) != 1 {
		t.Fatalf("history lost: %d", len(got))
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t, false)
	svc := newFakeService(t)
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{"svc": {URL: svc.srv.URL}}
	m := newMonitor(t, e, c)
	base, _ := start(t, m)
	var b []byte
	natstest.WaitFor(t, wait, "the transition to be counted", func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ = io.ReadAll(resp.Body)
		return strings.Contains(string(b), `pulsehub_healthmon_transitions_total{status="ok",target="http-svc"} 1`)
	})
	for _, line := range []string{
		`pulsehub_healthmon_target_status{kind="http",target="http-svc"} 0`,
		`pulsehub_healthmon_target_state{kind="http",status="ok",target="http-svc"} 1`,
		`pulsehub_healthmon_target_state{kind="http",status="down",target="http-svc"} 0`,
		`pulsehub_healthmon_target_latency_seconds{kind="http",target="http-svc"}`,
		`pulsehub_healthmon_target_status{kind="nats",target="nats"} 0`,
	} {
		if !strings.Contains(string(b), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

func TestAdvisoriesShowOnTheRoute(t *testing.T) {
	e := newEnv(t, false)
	m := newMonitor(t, e, testConfig())
	start(t, m)
	// A consumer made by hand with a delivery limit, whose message is refused twice.
	ctx := context.Background()
	cons, err := e.js.CreateOrUpdateConsumer(ctx, events.StreamOdoo, jetstream.ConsumerConfig{Durable: "by-hand", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(ctx, events.OdooEventSubject("x", "y"), nil); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, wait, "the advisory to be counted", func() bool {
		if msg, err := cons.Next(jetstream.FetchMaxWait(100 * time.Millisecond)); err == nil {
			_ = msg.Nak()
		}
		return counterValue(m.metrics.advisories.WithLabelValues(events.StreamOdoo, "by-hand")) == 1
	})
	natstest.WaitFor(t, wait, "the route row to show it", func() bool {
		for _, r := range m.View().Routes {
			if r.Route == "by-hand" && r.Advisories == 1 {
				return true
			}
		}
		return false
	})
}
