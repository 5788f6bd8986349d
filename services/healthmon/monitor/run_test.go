package monitor

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

func TestHungTargetDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, false)
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers while the test runs
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })
	fast := newFakeService(t)
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{
		"hung": {URL: hung.URL, Timeout: 10 * time.Minute, Interval: 10 * time.Minute},
		"fast": {URL: fast.srv.URL, Timeout: time.Second, Interval: 20 * time.Millisecond},
	}
	m := newMonitor(t, e, c)
	_, stop := start(t, m)
	// The fast target is probed again and again while the hung one's first
	// probe is still waiting for an answer.
	natstest.WaitFor(t, wait, "three results of the fast target", func() bool {
		return len(history(t, e.js, "http-fast")) >= 3
	})
	if s := statusOf(m, "http-hung"); s != status.Unknown {
		t.Fatalf("the hung target has a result (%s) before its timeout", s)
	}
	if s := statusOf(m, "http-fast"); s != status.OK {
		t.Fatalf("fast target is %s", s)
	}
	// Shutdown does not wait for the hung target's timeout either.
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := history(t, e.js, "http-hung"); len(got) != 0 {
		t.Fatalf("a probe cut short by shutdown was recorded: %+v", got)
	}
}

func TestHealthIs503WhenOdooDatabaseIsDown(t *testing.T) {
	e := newEnv(t, false)
	o := odootest.New(t)
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{"odoo-web": {URL: o.URL + "/web/health?db_server_status=1"}}
	c.Odoo = map[string]odoo.Config{"main": o.Config(odoo.TransportXMLRPC)}
	m := newMonitor(t, e, c)
	base, _ := start(t, m)

	var h Health
	natstest.WaitFor(t, wait, "every target ok", func() bool {
		return statusOf(m, "http-odoo-web") == status.OK && statusOf(m, "odoo-main") == status.OK && statusOf(m, "nats") == status.OK
	})
	if code := getJSON(t, base+"/health", &h); code != http.StatusOK || h.Status != "ok" {
		t.Fatalf("healthy: %d %+v", code, h)
	}
	o.SetDatabaseDown(true)
	// Both Odoo targets fail (web health 500, authenticate faults); wait
	// for the web one, whichever the hysteresis confirms first.
	natstest.WaitFor(t, wait, "/health to answer 503 naming http-odoo-web", func() bool {
		h = Health{}
		return getJSON(t, base+"/health", &h) == http.StatusServiceUnavailable && strings.Contains(strings.Join(h.Failing, "; "), "http-odoo-web critical")
	})
	if msg := strings.Join(h.Failing, "; "); !strings.Contains(msg, "http-odoo-web critical") || !strings.Contains(msg, "database server unreachable") || h.Targets["nats"].Status != status.OK {
		t.Fatalf("/health does not name the failing target: %+v", h)
	}
	o.SetDatabaseDown(false)
	natstest.WaitFor(t, wait, "/health to recover", func() bool {
		return getJSON(t, base+"/health", nil) == http.StatusOK
	})
}

func TestUnprobedTargetIsUnknownNotDown(t *testing.T) {
	e := newEnv(t, false)
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{"later": {URL: "http://127.0.0.1:1/health"}}
	m := newMonitor(t, e, c)
	v := m.View()
	tg, ok := viewTarget(v, "http-later")
	if !ok || tg.Status != status.Unknown || !tg.CheckedAt.IsZero() || v.Overall != status.Unknown {
		t.Fatalf("before any probe: %+v (overall %s)", tg, v.Overall)
	}
	if h := m.health(); len(h.Failing) != 0 {
		t.Fatalf("an unprobed target fails /health: %v", h.Failing)
	}
	// A first refusal is not yet a verdict: shown, not stored, not failing.
	ctx := context.Background()
	m.RunOnce(ctx)
	tg, _ = viewTarget(m.View(), "http-later")
	if tg.Status != status.Unknown || tg.Seen != status.Down || !strings.Contains(tg.Message, "refused") {
		t.Fatalf("after one refusal: %+v", tg)
	}
	if h := m.health(); len(h.Failing) != 0 || len(history(t, e.js, "http-later")) != 0 {
		t.Fatalf("one refusal failed /health (%v) or was stored", h.Failing)
	}
	m.RunOnce(ctx)
	if h := m.health(); len(h.Failing) != 1 || !strings.Contains(h.Failing[0], "http-later down") {
		t.Fatalf("two refusals: /health failing %v", h.Failing)
	}
	if msgs := transitions(t, e.js, "http-later"); len(msgs) != 1 || msgs[0].Subject != "health.http-later.down" {
		t.Fatalf("transitions = %v", subjects(msgs))
	}
}

func TestRunFailsWhenItCannotListen(t *testing.T) {
	e := newEnv(t, false)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	c := testConfig()
	c.HTTP.Listen = busy.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := Run(ctx, e.deps, c); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run on a busy port: %v", err)
	}
}

func TestStatusJSON(t *testing.T) {
	e := newEnv(t, false)
	m := newMonitor(t, e, testConfig())
	base, _ := start(t, m)
	natstest.WaitFor(t, wait, "nats probed", func() bool { return statusOf(m, "nats") == status.OK })
	var v page.View
	if code := getJSON(t, base+"/status.json", &v); code != 200 || v.Overall != status.OK {
		t.Fatalf("status.json: %d %+v", code, v)
	}
	if tg, ok := viewTarget(v, "nats"); !ok || tg.Kind != "nats" || tg.CheckedAt.IsZero() {
		t.Fatalf("nats in status.json: %+v", tg)
	}
}
