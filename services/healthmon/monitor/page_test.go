package monitor

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/healthmon/internal/healthtest"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// fakeHub serves what the hub's own services answer: /health, the
// dispatcher's /breakers and the ingester's /metrics.
func fakeHub(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status": "ok", "checks": {"nats": {"status": "ok"}}}`))
	})
	mux.HandleFunc("GET /breakers", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"ocr": {"service": "ocr", "state": "closed"}, "llm": {"service": "llm", "state": "open", "total_failures": 9}}`))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, wire.MetricReconcilerFailed+" 2\n"+wire.MetricReconcilerLastRun+" 1e10\n")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestStatusPageRendersEveryTarget(t *testing.T) {
	e := newEnv(t, false)
	healthtest.StuckRoute(t, e.js, "orders")
	o := odootest.New(t)
	hub := fakeHub(t)
	svc := newFakeService(t)
	c := testConfig()
	c.Routes.LagWarning = 3
	c.HTTPTargets = map[string]HTTPTarget{"ocr": {URL: svc.srv.URL + "/health"}}
	c.Odoo = map[string]odoo.Config{"main": o.Config(odoo.TransportXMLRPC)}
	c.Services = map[string]string{"ingester": hub.URL, "dispatcher": hub.URL + "/", "odoowriter": hub.URL}
	m := newMonitor(t, e, c)
	base, _ := start(t, m)

	want := map[string]status.Status{
		"nats": status.OK, "odoo-main": status.OK, "http-ocr": status.OK, "route-orders": status.Warning,
		"service-ingester": status.OK, "service-dispatcher": status.OK, "service-odoowriter": status.OK,
		"breaker-ocr": status.OK, "breaker-llm": status.Critical, "github-reconciler": status.Warning,
	}
	natstest.WaitFor(t, wait, "every target probed", func() bool {
		for name, s := range want {
			if statusOf(m, name) != s {
				return false
			}
		}
		return true
	})
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, ct)
	}
	doc, err := html.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	rows := healthtest.Rows(doc)
	for name, s := range want {
		cells, ok := rows["target:"+name]
		if !ok {
			t.Errorf("no row for target %s", name)
			continue
		}
		if cells[0] != name || !strings.Contains(cells[2], page.Label(s)) {
			t.Errorf("row %s = %q, want status %s", name, cells, page.Label(s))
		}
	}
	route := rows["route:orders"]
	if len(route) < 7 || route[1] != "ODOO" || !strings.HasPrefix(route[3], "3") || route[4] != "2" || route[6] != "1" {
		t.Errorf("route row = %q", route)
	}
	if len(rows) != len(want)+1 {
		t.Errorf("rows = %v", rows)
	}
}
