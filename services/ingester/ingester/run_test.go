package ingester_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
)

func TestRunServesPollsReconcilesAndStops(t *testing.T) {
	n := ingesttest.StartNATS(t)
	gh := githubtest.New(t, 7)
	gh.Add(githubtest.Delivery{GUID: "lost-while-down", DeliveredAt: time.Now().UTC().Add(-time.Hour), StatusCode: 0, Event: "push"})
	fake := odootest.New(t)
	id, err := fake.Insert("res.partner", map[string]any{"name": "Changed while the hub was down"})
	if err != nil {
		t.Fatal(err)
	}

	cfg := githubConfig()
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	cfg.GitHub.App.AppID, cfg.GitHub.App.PrivateKey, cfg.GitHub.App.BaseURL = 7, config.NewSecret(string(gh.KeyPEM)), gh.URL
	cfg.GitHub.App.Interval = time.Hour
	cfg.Odoo = map[string]odoo.Config{"main": fake.Config(odoo.TransportXMLRPC)}
	cfg.OdooSources = map[string]ingester.OdooSource{"partners": {Token: config.NewSecret(token), Model: "res.partner", Instance: "main",
		Poll: ingester.PollConfig{Enabled: true, Fields: []string{"name", "write_date"}, Interval: time.Hour}}}
	logs := &ingesttest.Buffer{}
	deps := n.Deps(t, logs)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ingester.Run(ctx, deps, cfg) }()

	base := "http://" + cfg.HTTP.Listen
	natstest.WaitFor(t, 10*time.Second, "GET /health to answer 200", func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	_, js := n.Client(t)
	natstest.WaitFor(t, 10*time.Second, "the reconciler to ask for the lost delivery", func() bool { return len(gh.Redelivered()) == 1 })
	natstest.WaitFor(t, 10*time.Second, "the poll to store the change", func() bool {
		for _, m := range ingesttest.Messages(t, js, events.StreamOdoo) {
			if m.Header.Get("Odoo-Id") == fmt.Sprint(id) && m.Header.Get("ce-source") == fake.URL {
				return true
			}
		}
		return false
	})

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"pulsehub_github_reconciler_failed_deliveries 1", "pulsehub_ingester_odoo_poll_events_total"} {
		if !strings.Contains(string(b), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunRefusesABadConfig(t *testing.T) {
	n := ingesttest.StartNATS(t)
	deps := n.Deps(t, io.Discard)
	err := ingester.Run(t.Context(), deps, ingester.DefaultConfig())
	if err == nil || !strings.Contains(err.Error(), "webhook_secrets") {
		t.Fatalf("Run without a secret: %v", err)
	}
	cfg := githubConfig()
	cfg.OdooSources = map[string]ingester.OdooSource{"p": {Token: config.NewSecret(token), Model: "res.partner", Instance: "gone",
		Poll: ingester.PollConfig{Enabled: true}}}
	if err := ingester.Run(t.Context(), deps, cfg); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("Run with a poll of an unknown instance: %v", err)
	}
}
