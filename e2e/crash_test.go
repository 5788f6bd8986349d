package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/odoo/odootest"
)

// sendAll sends deliveries with a few concurrent senders and returns the
// status each got (0 for a transport error).
func (h *Hub) sendAll(ds []Delivery, senders int) []int {
	codes := make([]int, len(ds))
	next := make(chan int)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for i := range next {
				codes[i], _ = h.Send(ds[i])
			}
		})
	}
	for i := range ds {
		next <- i
	}
	close(next)
	wg.Wait()
	return codes
}

// Stopping the writer in the middle of a 1,000-event burst and starting it
// again applies every event exactly once.
func TestWriterStoppedMidBurstAppliesEveryEventOnce(t *testing.T) {
	const n = 1000
	h := NewHub(t, Options{})
	h.Odoo.SetLatency(odootest.Latency{PerCall: 5 * time.Millisecond, PerRecord: 100 * time.Microsecond})
	ds := make([]Delivery, n)
	for i := range ds {
		ds[i] = IssueDelivery(t, "opened", 10000+i, fmt.Sprintf("Burst %d", i))
	}
	sent := make(chan []int, 1)
	go func() { sent <- h.sendAll(ds, 8) }()
	natstest.WaitFor(t, wait, "the writer part-way through the burst", func() bool { return len(h.Tasks()) >= n/4 })
	h.Stop("odoowriter")
	stoppedAt := len(h.Tasks())
	h.Start("odoowriter")
	for i, code := range <-sent {
		if code != 202 {
			t.Fatalf("delivery %d answered %d", i, code)
		}
	}
	h.WaitTasks(n)
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
	tasks := h.Tasks()
	for i := range n {
		if c := len(tasks[int64(10000+i)]); c != 1 {
			t.Fatalf("issue %d has %d tasks", 10000+i, c)
		}
	}
	if len(tasks) != n || h.Odoo.Count("project.task") != n {
		t.Fatalf("%d issues, %d tasks", len(tasks), h.Odoo.Count("project.task"))
	}
	t.Logf("writer stopped after %d of %d tasks, restarted, all applied once", stoppedAt, n)
}
