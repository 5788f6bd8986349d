package ingester_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
)

// replica is one ingester.Run against the shared JetStream. It has Odoo
// and GitHub fakes of its own, so the fake that gets calls tells which
// replica runs the poll and the reconciler.
type replica struct {
	odoo   *odootest.Server
	github *githubtest.Server
	base   string
	logs   *ingesttest.Buffer
	cancel context.CancelFunc
	done   chan error
}

func startReplica(t *testing.T, n *ingesttest.NATS) *replica {
	t.Helper()
	r := &replica{odoo: odootest.New(t), github: githubtest.New(t, 7), logs: &ingesttest.Buffer{}, done: make(chan error, 1)}
	cfg := githubConfig()
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	cfg.GitHub.App.AppID, cfg.GitHub.App.PrivateKey, cfg.GitHub.App.BaseURL = 7, config.NewSecret(string(r.github.KeyPEM)), r.github.URL
	cfg.GitHub.App.Interval, cfg.GitHub.App.Lookback, cfg.GitHub.App.Overlap = 50*time.Millisecond, time.Hour, time.Minute
	cfg.Odoo = map[string]odoo.Config{"main": r.odoo.Config(odoo.TransportXMLRPC)}
	cfg.OdooSources = map[string]ingester.OdooSource{"partners": {Token: config.NewSecret(token), Model: "res.partner", Instance: "main",
		Poll: ingester.PollConfig{Enabled: true, Interval: 50 * time.Millisecond}}}
	r.base = "http://" + cfg.HTTP.Listen
	deps := n.Deps(t, r.logs)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- ingester.Run(ctx, deps, cfg) }()
	t.Cleanup(func() { r.stop(t) })
	natstest.WaitFor(t, natstest.Wait, "GET /health to answer 200", func() bool {
		resp, err := http.Get(r.base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

// stop ends the replica's Run and checks it returned cleanly.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(natstest.Wait):
		t.Error("Run did not return after its context ended")
	}
}

// polls counts the passes of the Odoo poll this replica made.
func (r *replica) polls() int { return r.odoo.CallsFor("res.partner", "search_read") }

// passes counts the reconciler passes this replica made.
func (r *replica) passes() int { return r.github.ListCalls() }

func TestOneOfTwoReplicasPollsAndReconcilesAndTheOtherTakesOver(t *testing.T) {
	n := ingesttest.StartNATS(t)
	a := startReplica(t, n)
	natstest.WaitFor(t, natstest.Wait, "replica a to poll Odoo and reconcile", func() bool { return a.polls() > 0 && a.passes() > 0 })
	b := startReplica(t, n)
	natstest.WaitFor(t, natstest.Wait, "replica b to stand by for both leases", func() bool {
		return strings.Count(b.logs.String(), "lease held by another replica") == 2
	})

	polls, passes := a.polls(), a.passes()
	natstest.WaitFor(t, natstest.Wait, "three more passes of a's poll and reconciler", func() bool {
		return a.polls() >= polls+3 && a.passes() >= passes+3
	})
	if b.polls() != 0 || b.passes() != 0 {
		t.Fatalf("replica b polled Odoo %d times and GitHub %d times while a held the leases", b.polls(), b.passes())
	}
	// b's webhooks stay open while it stands by.
	body := []byte(`{"_model": "res.partner", "_id": 7, "write_date": "2026-11-22 05:14:39"}`)
	resp, err := http.Post(b.base+"/odoo/partners/"+token, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a webhook on the standing-by replica: %d", resp.StatusCode)
	}

	a.stop(t)
	natstest.WaitFor(t, natstest.Wait, "replica b to take over the poll and the reconciler", func() bool {
		return b.polls() > 0 && b.passes() > 0
	})
}
