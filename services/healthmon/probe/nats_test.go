package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/nats-io/nats.go/jetstream"
)

func checkNATS(t *testing.T, p *NATS) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rs, err := p.Check(ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("check: %v %v", rs, err)
	}
	return rs[0]
}

func TestNATSUpDownAndSlow(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, js := natstest.Connect(t, srv.ClientURL())
	r := checkNATS(t, &NATS{Conn: nc, JS: js, Latency: thresholds})
	if r.Status != status.OK || r.Target != TargetNATS || r.Kind != KindNATS || r.Details["server_name"] != "natstest" ||
		!strings.Contains(r.Message, "JetStream enabled") {
		t.Fatalf("up: %s %q %v", r.Status, r.Message, r.Details)
	}
	slow := newStepClock(2500 * time.Millisecond)
	if r := checkNATS(t, &NATS{Conn: nc, JS: js, Latency: thresholds, Clock: slow.Now}); r.Status != status.Warning {
		t.Fatalf("slow: %s %q", r.Status, r.Message)
	}
	natstest.Shutdown(srv)
	natstest.WaitFor(t, 5*time.Second, "the client to notice", func() bool { return !nc.IsConnected() })
	if r := checkNATS(t, &NATS{Conn: nc, JS: js}); r.Status != status.Down || !strings.Contains(r.Message, "not connected") {
		t.Fatalf("down: %s %q", r.Status, r.Message)
	}
	if r := checkNATS(t, &NATS{}); r.Status != status.Down {
		t.Fatalf("no connection: %s %q", r.Status, r.Message)
	}
}

func TestNATSWithoutJetStreamIsCritical(t *testing.T) {
	opts := natstest.Options(t.TempDir())
	opts.JetStream = false
	srv := natstest.Start(t, opts)
	t.Cleanup(func() { natstest.Shutdown(srv) })
	nc, js := natstest.Connect(t, srv.ClientURL())
	if r := checkNATS(t, &NATS{Conn: nc, JS: js}); r.Status != status.Critical || !strings.Contains(r.Message, "jetstream") {
		t.Fatalf("no JetStream: %s %q", r.Status, r.Message)
	}
}

func TestNATSStorageNearlyFull(t *testing.T) {
	p := &NATS{}
	info := &jetstream.AccountInfo{Tier: jetstream.Tier{Store: 95, Limits: jetstream.AccountLimits{MaxStore: 100, MaxMemory: -1}}}
	if why := p.full(info); !strings.Contains(why, "file storage 95% full") {
		t.Fatalf("full = %q", why)
	}
	info.Store = 10
	if why := p.full(info); why != "" {
		t.Fatalf("not full = %q", why)
	}
}
