package monitor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
	"github.com/insightpulse/pulsehub/services/healthmon/probe"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/nats-io/nats.go/jetstream"
)

// stuckRoute makes route "orders" on ODOO with 5 messages of which 2 are
// taken and never acked, and one dead letter.
func stuckRoute(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	c, err := stream.EnsureConsumer(ctx, js, stream.ConsumerOptions{Name: "orders", Stream: events.StreamOdoo, Subjects: []string{"odoo.event.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := js.Publish(ctx, events.OdooEventSubject("sale.order", "shop"), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := c.Fetch(2, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() {
	}
	if _, err := js.Publish(ctx, events.DLQSubject("orders", "odoo.event.sale_order.shop"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
}

// fakeHub serves what the hub's own services answer: /health, the
// dispatcher's /breakers and the ingester's /metrics.
func fakeHub(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status": "ok", "checks": {"nats": {"status": "ok"}}}`))
	})
	mux.HandleFunc("GET /breakers", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"ocr": {"state": "closed"}, "llm": {"state": "open", "failures": 9}}`))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, probe.MetricFailedDeliveries+" 2\n"+probe.MetricLastRun+" 1e10\n")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestStatusPageRendersEveryTarget(t *testing.T) {
	e := newEnv(t, false)
	stuckRoute(t, e.js)
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
	rows := tableRows(doc)
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

// tableRows maps "target:<name>" and "route:<name>" to their cells' text.
func tableRows(doc *html.Node) map[string][]string {
	out := map[string][]string{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			for _, a := range n.Attr {
				if a.Key == "data-target" || a.Key == "data-route" {
					out[strings.TrimPrefix(a.Key, "data-")+":"+a.Val] = rowCells(n)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func rowCells(tr *html.Node) []string {
	var out []string
	for td := tr.FirstChild; td != nil; td = td.NextSibling {
		if td.Type == html.ElementNode && td.Data == "td" {
			out = append(out, strings.Join(strings.Fields(nodeText(td)), " "))
		}
	}
	return out
}

func nodeText(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(nodeText(c) + " ")
	}
	return b.String()
}
