package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/healthmon/internal/healthtest"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRouteGrading(t *testing.T) {
	th := DefaultRouteThresholds()
	tests := []struct {
		name string
		ri   stream.RouteInfo
		want status.Status
		msg  string
	}{
		{"idle", stream.RouteInfo{Waiting: 1}, status.OK, "0 pending, 0 awaiting ack, 0 dead letters"},
		{"lagging", stream.RouteInfo{Pending: 1000, Waiting: 1}, status.Warning, "1000 messages pending (warning from 1000)"},
		{"far behind", stream.RouteInfo{Pending: 10000, Waiting: 1}, status.Critical, "10000 messages pending (critical from 10000)"},
		{"stuck acks", stream.RouteInfo{AckPending: 500, Waiting: 1}, status.Warning, "500 messages awaiting ack (warning from 500)"},
		{"redeliveries", stream.RouteInfo{Redelivered: 10, Waiting: 1}, status.Warning, "10 messages redelivered (warning from 10)"},
		{"one dead letter", stream.RouteInfo{DLQDepth: 1, Waiting: 1}, status.Warning, "1 dead letters (warning from 1)"},
		{"many dead letters", stream.RouteInfo{DLQDepth: 100, Pending: 1000, Waiting: 1}, status.Critical,
			"1000 messages pending (warning from 1000); 100 dead letters (critical from 100)"},
		{"nobody pulling", stream.RouteInfo{Pending: 3}, status.OK, "no service is pulling from it"},
		{"replaying", stream.RouteInfo{Replaying: true, ReplayLeft: 7, Waiting: 1}, status.OK, "replaying, 7 left"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.ri.Route, tc.ri.Stream = "orders", "ODOO"
			r := (&Routes{Thresholds: th}).grade(tc.ri, nil)
			if r.Status != tc.want || r.Message != tc.msg || r.Target != "route-orders" || r.Kind != KindConsumer {
				t.Fatalf("got %s %q, want %s %q", r.Status, r.Message, tc.want, tc.msg)
			}
		})
	}
	if r := (&Routes{}).grade(stream.RouteInfo{Route: "x", Pending: 1 << 40, DLQDepth: 1 << 20}, nil); r.Status != status.OK {
		t.Fatalf("zero thresholds graded %s", r.Status)
	}
}

// A busy service has no pull waiting while all its workers handle
// messages: "nobody is pulling" is judged from the delivered sequence.
func TestRouteIsPulledWhileItsDeliveredSequenceMoves(t *testing.T) {
	p := &Routes{}
	busy := stream.RouteInfo{Route: "orders", Stream: "ODOO", Pending: 500, AckPending: 100, Delivered: 1000}
	msg := func(ri stream.RouteInfo, last map[string]uint64) string { return p.grade(ri, last).Message }
	if m := msg(busy, nil); strings.Contains(m, "no service") {
		t.Fatalf("first look at a busy route: %q", m)
	}
	moved := busy
	moved.Delivered = 1055
	if m := msg(moved, map[string]uint64{"orders": 1000}); strings.Contains(m, "no service") {
		t.Fatalf("delivered moved 1000 → 1055: %q", m)
	}
	stuck := busy
	stuck.AckPending = 0
	if m := msg(stuck, map[string]uint64{"orders": 1000}); !strings.Contains(m, "no service is pulling from it") {
		t.Fatalf("delivered still 1000 with 500 pending: %q", m)
	}
}

func TestRoutesReadAStuckConsumerAndItsDeadLetters(t *testing.T) {
	hub := natstest.RunHub(t)
	srv, js := hub.Server, hub.JS
	ctx := context.Background()
	healthtest.StuckRoute(t, js, "orders")
	rs, err := (&Routes{JS: js, Thresholds: RouteThresholds{LagWarning: 3, DLQWarning: 1}, Advisories: &Advisories{}}).Check(ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("routes: %v %v", rs, err)
	}
	r := rs[0]
	if r.Status != status.Warning || r.Route == nil || r.Route.Pending != 3 || r.Route.AckPending != 2 || r.Route.DLQDepth != 1 ||
		r.Details["num_pending"] != uint64(3) || r.Details["dlq_depth"] != uint64(1) || r.Details["max_deliveries_advisories"] != uint64(0) ||
		!strings.Contains(r.Message, "3 messages pending") || !strings.Contains(r.Message, "1 dead letters") {
		t.Fatalf("stuck route: %s %q %+v", r.Status, r.Message, r.Details)
	}

	natstest.Shutdown(srv)
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := (&Routes{JS: js}).Check(cctx); err == nil {
		t.Fatal("listing routes with NATS down succeeded")
	}
}

func TestAdvisoriesCountMaxDeliveries(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, js := natstest.Connect(t, srv.ClientURL())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ODOO", Subjects: []string{"odoo.event.>"}}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	seenc := make(chan struct{}, 1)
	a := &Advisories{OnAdvisory: func(s, c string) { seen = append(seen, s+"/"+c); seenc <- struct{}{} }}
	stop, err := a.Start(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, "ODOO", jetstream.ConsumerConfig{Durable: "by-hand", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "odoo.event.x.y", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		m, err := c.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		_ = m.Nak()
	}
	// A pull after the last delivery lets the server see the limit is reached.
	if _, err := c.Next(jetstream.FetchMaxWait(300 * time.Millisecond)); err == nil {
		t.Fatal("a message was delivered past MaxDeliver")
	}
	select {
	case <-seenc:
	case <-time.After(5 * time.Second):
		t.Fatal("no MAX_DELIVERIES advisory within 5s")
	}
	if a.Count("ODOO", "by-hand") != 1 || seen[0] != "ODOO/by-hand" || a.Count("ODOO", "other") != 0 {
		t.Fatalf("counts: %d %v", a.Count("ODOO", "by-hand"), seen)
	}
	var none *Advisories
	if none.Count("ODOO", "by-hand") != 0 {
		t.Fatal("nil advisories count")
	}
	nc.Close()
	if _, err := (&Advisories{}).Start(nc); err == nil {
		t.Fatal("subscribed on a closed connection")
	}
}
