package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
)

// Three nats-servers with streams of 3 replicas; 2,000 signed deliveries
// are sent while the GITHUB stream's leader is stopped mid-way. Every
// delivery that got a 2xx is in Odoo exactly once after the cluster
// settles; only deliveries that got a 503 may be missing.
func TestClusterFailoverLosesNoAcknowledgedDelivery(t *testing.T) {
	const n, before = 2000, 600
	c := natstest.RunCluster(t, "e2e", 3)
	h := NewHub(t, Options{NATSURL: c.URLs(), Replicas: 3})
	ds := make([]Delivery, n)
	for i := range ds {
		ds[i] = IssueDelivery(t, "opened", 50000+i, fmt.Sprintf("Failover %d", i))
	}
	codes := h.sendAll(ds[:before], 8)
	rest := make(chan []int, 1)
	go func() { rest <- h.sendAll(ds[before:], 8) }()
	leader := c.StreamLeader(events.StreamGitHub)
	c.Stop(leader)
	codes = append(codes, <-rest...)
	c.Restart(leader)
	c.WaitForStreamCurrent(events.StreamGitHub)

	acked, refused := 0, 0
	for i, code := range codes {
		switch code {
		case http.StatusAccepted:
			acked++
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("delivery %d answered %d (want 202 or 503)", i, code)
		}
	}
	natstest.WaitFor(t, wait, "every acknowledged delivery in Odoo", func() bool {
		tasks := h.Tasks()
		for i, code := range codes {
			if code == http.StatusAccepted && len(tasks[int64(50000+i)]) == 0 {
				return false
			}
		}
		return true
	})
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
	tasks := h.Tasks()
	for i := range codes {
		if k := len(tasks[int64(50000+i)]); k > 1 {
			t.Fatalf("delivery %d applied %d times", i, k)
		}
	}
	t.Logf("%d deliveries: %d acknowledged (all in Odoo once), %d refused with 503 during the failover (%d of those stored anyway)",
		n, acked, refused, len(tasks)-acked)
}
