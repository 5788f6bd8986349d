package e2e

import (
	"fmt"
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

	acked, refused, _ := tallyCodes(t, codes, false)
	natstest.WaitFor(t, wait, "every acknowledged delivery in Odoo", func() bool {
		return ackedInOdoo(h, codes, 50000) == acked
	})
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
	assertAppliedOnce(t, h, codes, 50000)
	tasks := h.Tasks()
	t.Logf("%d deliveries: %d acknowledged (all in Odoo once), %d refused with 503 during the failover (%d of those stored anyway)",
		n, acked, refused, len(tasks)-acked)
}
