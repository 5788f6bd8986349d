package monitor

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/insightpulse/pulsehub/services/healthmon/store"
	"github.com/prometheus/client_golang/prometheus"
)

// replica is e with a connection and a registry of its own, as a second
// healthmon replica has.
func replica(t *testing.T, e env) env {
	t.Helper()
	nc, js := natstest.Connect(t, e.srv.ClientURL())
	e.js = js
	e.deps.Conn, e.deps.JS, e.deps.Registry = nc, js, prometheus.NewRegistry()
	e.deps.Logger = slog.New(slog.DiscardHandler)
	return e
}

// svcConfig probes one fake service, target http-svc.
func svcConfig(t *testing.T) (*fakeService, Config) {
	t.Helper()
	svc := newFakeService(t)
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{"svc": {URL: svc.srv.URL}}
	return svc, c
}

// checkedAt is when m last recorded target.
func checkedAt(m *Monitor, target string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.targets[target]; t != nil {
		return t.record.CheckedAt
	}
	return time.Time{}
}

// settle waits until every monitor recorded target again after now: a
// result in flight when a test looked has been stored (or not) by then.
func settle(t *testing.T, target string, ms ...*Monitor) {
	t.Helper()
	for _, m := range ms {
		from := checkedAt(m, target)
		natstest.WaitFor(t, wait, "another result of "+target, func() bool { return checkedAt(m, target).After(from) })
	}
}

func TestTwoMonitorsPublishEachTransitionOnce(t *testing.T) {
	e := newEnv(t, false)
	svc, c := svcConfig(t)
	a, b := newMonitor(t, replica(t, e), c), newMonitor(t, replica(t, e), c)
	_, stopA := start(t, a)
	_, stopB := start(t, b)
	natstest.WaitFor(t, wait, "one monitor to publish and both to see the target ok", func() bool {
		return a.publishing.Load() != b.publishing.Load() && statusOf(a, "http-svc") == status.OK && statusOf(b, "http-svc") == status.OK
	})
	standby, stopHolder := b, stopA
	if b.publishing.Load() {
		standby, stopHolder = a, stopB
	}

	if standby.View().Role != page.Standby || !slices.Contains([]page.Role{a.View().Role, b.View().Role}, page.Publisher) {
		t.Fatalf("roles: a %q, b %q", a.View().Role, b.View().Role)
	}
	svc.code.Store(500)
	natstest.WaitFor(t, wait, "both monitors to see the target critical", func() bool {
		return statusOf(a, "http-svc") == status.Critical && statusOf(b, "http-svc") == status.Critical
	})
	settle(t, "http-svc", a, b)
	if got := subjects(transitions(t, e.js, "http-svc")); !slices.Equal(got, []string{"health.http-svc.ok", "health.http-svc.critical"}) {
		t.Fatalf("transitions with two monitors = %v, want each once", got)
	}

	// The holder stops (a rollout): the other takes over at once and goes
	// on from the stored status, without announcing it again.
	if err := stopHolder(); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, wait, "the other monitor to take over", standby.publishing.Load)
	settle(t, "http-svc", standby)
	svc.code.Store(200)
	natstest.WaitFor(t, wait, "the target ok again", func() bool { return statusOf(standby, "http-svc") == status.OK })
	settle(t, "http-svc", standby)
	msgs := transitions(t, e.js, "http-svc")
	if got := subjects(msgs); !slices.Equal(got, []string{"health.http-svc.ok", "health.http-svc.critical", "health.http-svc.ok"}) {
		t.Fatalf("transitions across the takeover = %v", got)
	}
	var critical, recovered store.Transition
	if json.Unmarshal(msgs[1].Data, &critical) != nil || json.Unmarshal(msgs[2].Data, &recovered) != nil {
		t.Fatal("transitions do not decode")
	}
	if recovered.Previous != status.Critical || recovered.PreviousSince == nil || !recovered.PreviousSince.Equal(critical.Since) {
		t.Fatalf("after the takeover: previous %s since %v, want critical since %s (the first holder's)",
			recovered.Previous, recovered.PreviousSince, critical.Since)
	}
}

// A publisher that lost its lease (NATS away) and takes it back finds its
// own values in the bucket: its waiting transitions go out.
func TestTakingBackTheLeaseKeepsOwnWaitingTransitions(t *testing.T) {
	e := newEnv(t, false)
	svc, c := svcConfig(t)
	m := newMonitor(t, e, c)
	ctx := context.Background()
	m.RunOnce(ctx) // stored and announced: ok

	m.publishing.Store(false) // the lease is lost
	svc.code.Store(500)
	m.RunOnce(ctx)
	m.RunOnce(ctx) // critical, waiting
	if n := len(transitions(t, e.js, "http-svc")); n != 1 {
		t.Fatalf("%d transitions published without the lease, want 1 (the first ok)", n)
	}
	if n := m.adopt(ctx); n != 0 {
		t.Fatalf("adopted %d targets of its own", n)
	}
	m.publishing.Store(true)
	m.RunOnce(ctx)
	if got := subjects(transitions(t, e.js, "http-svc")); !slices.Equal(got, []string{"health.http-svc.ok", "health.http-svc.critical"}) {
		t.Fatalf("transitions = %v", got)
	}
}

// A replica taking over from another adopts what it stored and drops its
// own waiting transitions: the other announced what it saw.
func TestTakingOverAdoptsTheOtherReplicasStatuses(t *testing.T) {
	e := newEnv(t, false)
	svc, c := svcConfig(t)
	ctx := context.Background()
	first := newMonitor(t, replica(t, e), c)
	second := newMonitor(t, replica(t, e), c)
	second.publishing.Store(false)
	first.RunOnce(ctx)
	second.RunOnce(ctx) // its own ok, waiting
	svc.code.Store(500)
	for range 2 {
		first.RunOnce(ctx)
	}
	if n := second.adopt(ctx); n != 2 {
		t.Fatalf("adopted %d targets, want 2 (nats and http-svc)", n)
	}
	second.publishing.Store(true)
	second.RunOnce(ctx) // critical, as stored: nothing to announce
	if got := subjects(transitions(t, e.js, "http-svc")); !slices.Equal(got, []string{"health.http-svc.ok", "health.http-svc.critical"}) {
		t.Fatalf("transitions = %v", got)
	}
	if s := statusOf(second, "http-svc"); s != status.Critical {
		t.Fatalf("after adopting: %s", s)
	}
}
