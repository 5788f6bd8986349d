package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// The chaos suite (issue 18): on a 3-node cluster with R3 streams, paced
// load of signed `issues` deliveries, one fault per subtest half-way
// through and the faulty part repaired after the last response. Nodes are
// killed, not shut down (natstest.Cluster.Kill), so leaders are replaced
// by real elections; the hub process is killed with SIGKILL. Each run
// asserts every acknowledged delivery is written in Odoo exactly once,
// refusals ≤ the requests that can be in flight, and no request left
// unanswered once a crashed hub is back, and logs the drain time (last
// response to the last acknowledged delivery in Odoo) and the time until
// the route is idle (lost acknowledgements redelivered) next to a
// fault-free baseline.
const (
	chaosDeliveries = 540
	chaosRate       = 60 // deliveries per second
	chaosSenders    = 16
	chaosIssueBase  = 70000
	// chaosDrainBound is generous (a shared 2-core machine): a fault-free
	// drain takes well under a second; an acknowledgement lost with a
	// killed process costs the 10s ack wait (events/stream.DefaultAckWait;
	// one lost with a server or a consumer leader is sent again by the
	// consume loop). With the old 30s ack wait a drain after a lost ack
	// exceeded this bound.
	chaosDrainBound = 30 * time.Second
)

// chaosFault injects a fault and returns the repair, which returns when
// the fault was over — a new leader elected, a crashed hub listening
// again — or zero when that is not measured.
type chaosFault func(t *testing.T, c *natstest.Cluster, h *Hub) (repair func() time.Time)

// chaosCase is one fault; with process, the hub's services run in a hub
// process of their own (Options.Process) that the fault may kill -9.
type chaosCase struct {
	name    string
	process bool
	fault   chaosFault
}

func TestChaos(t *testing.T) {
	for _, tc := range []struct {
		test string
		chaosCase
	}{
		{"baseline", chaosCase{name: "none", fault: func(*testing.T, *natstest.Cluster, *Hub) func() time.Time {
			return func() time.Time { return time.Time{} }
		}}},
		// Nodes are killed (natstest.Cluster.Kill: cut off at once, no
		// Raft step-down), so each leader loss waits for an election
		// timeout, 4-9s, as on a real cluster, and is kept down until the
		// load is over.
		{"stream-leader", chaosCase{name: "stream leader of GITHUB killed", fault: func(t *testing.T, c *natstest.Cluster, h *Hub) func() time.Time {
			i := c.StreamLeader(events.StreamGitHub)
			old := c.Servers[i].Name()
			c.Kill(i)
			elected := untilLedElsewhere(h, old)
			return func() time.Time { c.Restart(i); return <-elected }
		}}},
		{"writer-server", chaosCase{name: "server the writer is connected to killed", fault: func(t *testing.T, c *natstest.Cluster, h *Hub) func() time.Time {
			i := connectedTo(t, c, "pulsehub-odoowriter")
			old := c.Servers[i].Name()
			t.Logf("the writer is connected to %s", old)
			c.Kill(i)
			elected := untilLedElsewhere(h, old)
			return func() time.Time { c.Restart(i); return <-elected }
		}}},
		{"consumer-leader", chaosCase{name: "consumer leader of the writer's route killed", fault: func(t *testing.T, c *natstest.Cluster, h *Hub) func() time.Time {
			ci := routeConsumer(t, h)
			if ci.Cluster == nil || ci.Cluster.Leader == "" {
				t.Fatalf("consumer info without a leader: %+v", ci)
			}
			i := serverIndex(t, c, ci.Cluster.Leader)
			t.Logf("the route's consumer leader is %s", ci.Cluster.Leader)
			c.Kill(i)
			elected := untilLedElsewhere(h, ci.Cluster.Leader)
			return func() time.Time { c.Restart(i); return <-elected }
		}}},
		// Not in issue 18's list: the writer's connection cut by its
		// server mid-load (a network drop); acknowledgements in flight on
		// it may be lost.
		{"writer-connection", chaosCase{name: "the writer's connection cut by its server", fault: func(t *testing.T, c *natstest.Cluster, h *Hub) func() time.Time {
			i, cid := connectionOf(t, c, "pulsehub-odoowriter")
			if err := c.Servers[i].DisconnectClientByID(cid); err != nil {
				t.Fatal(err)
			}
			return func() time.Time { return time.Time{} }
		}}},
		// The writer stopped gracefully (it drains: in-flight batches
		// finish and are acknowledged) and started after the load.
		{"writer-restart", chaosCase{name: "writer stopped mid-load and started again", fault: func(t *testing.T, c *natstest.Cluster, h *Hub) func() time.Time {
			h.Stop("odoowriter")
			return func() time.Time { h.Start("odoowriter"); return time.Time{} }
		}}},
		// The hub process (ingester, writer, dispatcher) killed with
		// SIGKILL mid-load and started again at once, as a supervisor
		// does: requests in flight are cut, new ones are refused until it
		// listens again, and what the dead writer had pulled comes back
		// only after the ack wait.
		{"hub-crash", chaosCase{name: "hub process killed (SIGKILL) and restarted", process: true, fault: func(t *testing.T, c *natstest.Cluster, h *Hub) func() time.Time {
			h.Crash()
			h.SpawnProcess() // the load goes on meanwhile: refused until it listens
			up := make(chan time.Time, 1)
			go func() { up <- untilHealthy(h.Ingester + "/health") }()
			return func() time.Time {
				h.waitHealthy(h.Ingester + "/health")
				return <-up
			}
		}}},
	} {
		t.Run(tc.test, func(t *testing.T) { runChaos(t, tc.chaosCase) })
	}
}

// runChaos sends the paced load, injects the fault half-way through,
// repairs it after the last response, and checks the outcome.
func runChaos(t *testing.T, cc chaosCase) {
	c := natstest.RunCluster(t, "chaos", 3)
	h := NewHub(t, Options{NATSURL: c.URLs(), Replicas: 3, Process: cc.process})
	// Odoo takes its time, so the writer has a batch in flight (and its
	// acknowledgement to send) most of the time a fault comes.
	h.Odoo.SetLatency(odootest.Latency{PerCall: 20 * time.Millisecond, PerRecord: 200 * time.Microsecond})
	ds := make([]Delivery, chaosDeliveries)
	for i := range ds {
		ds[i] = IssueDelivery(t, "opened", chaosIssueBase+i, fmt.Sprintf("Chaos %d", i))
	}
	var repair func() time.Time
	var faultAt time.Time
	var inFlightAtFault int64
	codes, sent, slowest := h.sendPaced(ds, chaosRate, chaosSenders, func(i int, inFlight int64) {
		if i == len(ds)/2 {
			inFlightAtFault = inFlight
			faultAt = time.Now()
			repair = cc.fault(t, c, h)
		}
	})
	// The repair comes after the last response, so the drain includes it:
	// what the fault costs past the end of the load.
	lastResponse := time.Now()
	over := repair()
	acked, refused, cut := tallyCodes(t, codes, cc.process)
	natstest.WaitFor(t, wait, "every acknowledged delivery in Odoo", func() bool {
		return ackedInOdoo(h, codes, chaosIssueBase) == acked
	})
	lastInOdoo := time.Now()
	drain := lastInOdoo.Sub(lastResponse)
	// Idle (nothing pending or unacknowledged) also waits for messages
	// whose acknowledgement was lost: they come back after the ack wait.
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
	idle := time.Since(lastResponse)
	// The GITHUB stream holds only these deliveries, all on this route, so
	// deliveries beyond the stream sequence are redeliveries.
	ci := routeConsumer(t, h)
	redelivered := ci.Delivered.Consumer - ci.Delivered.Stream
	assertAppliedOnce(t, h, codes, chaosIssueBase)
	// Requests sent during an election wait in the ingester's publish
	// retry up to their budget (ingester.github.publish_timeout, 8s), so
	// only one whose whole budget fell inside the fault is refused: none
	// sent after the fault was over (a new leader for everything the
	// killed node led), and, where that end is not measured, at most the
	// senders (the requests that can be in flight). An election longer
	// than the budget refuses the senders' requests in waves, one per
	// budget. A crashed hub cuts the requests in flight and refuses
	// connections until it listens again; none sent after that goes
	// unanswered either.
	if over.IsZero() && refused > chaosSenders {
		t.Errorf("%d refusals, more than the %d requests that can be in flight (%d at the fault)", refused, chaosSenders, inFlightAtFault)
	}
	for i, code := range codes {
		if (code == 0 || code == http.StatusServiceUnavailable) && !over.IsZero() && sent[i].After(over) {
			t.Errorf("delivery %d sent %s after the fault was over answered %d", i, sent[i].Sub(over), code)
		}
	}
	lasted, afterFault := "not measured", "-"
	if !over.IsZero() {
		lasted = over.Sub(faultAt).Round(time.Millisecond).String()
		afterFault = max(0, lastInOdoo.Sub(over)).Round(time.Millisecond).String()
	}
	// The drain the hub answers for starts when the load is over and NATS
	// has a leader again for what the killed node led: how long an
	// election takes is the cluster's (4-9 s here, once ~60 s on a CI
	// machine running every package's -race tests at once, with the
	// deliveries applied 30 ms after the new consumer leader).
	from := lastResponse
	if over.After(from) {
		from = over
	}
	if owned, ownedIdle := lastInOdoo.Sub(from), idle-from.Sub(lastResponse); owned > chaosDrainBound || ownedIdle > chaosDrainBound {
		t.Errorf("drain took %s, idle after %s, of which %s and %s after the fault was over (bound %s)", drain, idle, owned, ownedIdle, chaosDrainBound)
	}
	t.Logf("fault %q: %d deliveries, %d acknowledged (all in Odoo once), %d refused, %d cut or refused by a dead process (%d in flight at the fault), fault over after %s, slowest answer %s, drain %s (%s after the fault was over), route idle after %s, %d redelivered (consumer seq %d, stream seq %d)",
		cc.name, len(ds), acked, refused, cut, inFlightAtFault, lasted, slowest.Round(time.Millisecond), drain.Round(time.Millisecond), afterFault, idle.Round(time.Millisecond), redelivered, ci.Delivered.Consumer, ci.Delivered.Stream)
}

// untilLedElsewhere polls, beside the load, until the GITHUB stream and
// the writer's route consumer both have a leader other than the killed
// node old (it may have led both), and sends when.
func untilLedElsewhere(h *Hub, old string) <-chan time.Time {
	out := make(chan time.Time, 1)
	led := func(cl *jetstream.ClusterInfo) bool { return cl != nil && cl.Leader != "" && cl.Leader != old }
	go func() {
		for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			var sc, cc *jetstream.ClusterInfo
			if s, err := h.JS.Stream(ctx, events.StreamGitHub); err == nil {
				if si, err := s.Info(ctx); err == nil {
					sc = si.Cluster
				}
			}
			if cons, err := h.JS.Consumer(ctx, events.StreamGitHub, "github-issues-to-tasks"); err == nil {
				if ci, err := cons.Info(ctx); err == nil {
					cc = ci.Cluster
				}
			}
			cancel()
			if led(sc) && led(cc) {
				break
			}
		}
		out <- time.Now()
	}()
	return out
}

// untilHealthy polls url until it answers 200 (for at most wait) and
// returns when it did; it does not touch a *testing.T, so a fault may run
// it beside the load.
func untilHealthy(url string) time.Time {
	client := &http.Client{Timeout: time.Second}
	for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		resp, err := client.Get(url)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
	}
	return time.Now()
}

// sendPaced sends ds at rate per second with at most senders requests in
// flight, calling before(i, inFlight) just before delivery i is scheduled,
// and returns the status each got (0 for a transport error), when each
// was sent, and the slowest answer.
func (h *Hub) sendPaced(ds []Delivery, rate, senders int, before func(i int, inFlight int64)) ([]int, []time.Time, time.Duration) {
	codes := make([]int, len(ds))
	sentAt := make([]time.Time, len(ds))
	took := make([]time.Duration, len(ds))
	next := make(chan int)
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for i := range next {
				inFlight.Add(1)
				sentAt[i] = time.Now()
				codes[i], _ = h.Send(ds[i])
				took[i] = time.Since(sentAt[i])
				inFlight.Add(-1)
			}
		})
	}
	start := time.Now()
	for i := range ds {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		before(i, inFlight.Load())
		next <- i
	}
	close(next)
	wg.Wait()
	return codes, sentAt, slices.Max(took)
}

// tallyCodes counts 202s and 503s, and with noAnswer the requests that
// got no answer (0: cut by a dying process, or its port closed), and
// fails on any other answer.
func tallyCodes(t *testing.T, codes []int, noAnswer bool) (acked, refused, cut int) {
	t.Helper()
	for i, code := range codes {
		switch {
		case code == http.StatusAccepted:
			acked++
		case code == http.StatusServiceUnavailable:
			refused++
		case code == 0 && noAnswer:
			cut++
		default:
			t.Fatalf("delivery %d answered %d (want 202 or 503)", i, code)
		}
	}
	return acked, refused, cut
}

// ackedInOdoo is the number of acknowledged deliveries (issue base+i for
// codes[i]) with a task in Odoo.
func ackedInOdoo(h *Hub, codes []int, base int) int {
	tasks, n := h.Tasks(), 0
	for i, code := range codes {
		if code == http.StatusAccepted && len(tasks[int64(base+i)]) > 0 {
			n++
		}
	}
	return n
}

// assertAppliedOnce fails if any delivery was applied more than once.
func assertAppliedOnce(t *testing.T, h *Hub, codes []int, base int) {
	t.Helper()
	tasks := h.Tasks()
	for i := range codes {
		if k := len(tasks[int64(base+i)]); k > 1 {
			t.Fatalf("delivery %d applied %d times", i, k)
		}
	}
}

// serverIndex is the index of the running node named name.
func serverIndex(t *testing.T, c *natstest.Cluster, name string) int {
	t.Helper()
	for i, s := range c.Servers {
		if s != nil && s.Name() == name {
			return i
		}
	}
	t.Fatalf("no running node named %q", name)
	return -1
}

// connectedTo is the index of the node holding the client connection named
// name (the service's NATS connection).
func connectedTo(t *testing.T, c *natstest.Cluster, name string) int {
	t.Helper()
	i, _ := connectionOf(t, c, name)
	return i
}

// connectionOf is the node holding the client connection named name and
// the connection's id on it.
func connectionOf(t *testing.T, c *natstest.Cluster, name string) (int, uint64) {
	t.Helper()
	for i, s := range c.Servers {
		if s == nil {
			continue
		}
		cz, err := s.Connz(&server.ConnzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ci := range cz.Conns {
			if ci.Name == name {
				return i, ci.Cid
			}
		}
	}
	t.Fatalf("no node holds a connection named %q", name)
	return -1, 0
}

// routeConsumer is the info of the writer's route consumer.
func routeConsumer(t *testing.T, h *Hub) *jetstream.ConsumerInfo {
	t.Helper()
	cons, err := h.JS.Consumer(context.Background(), events.StreamGitHub, "github-issues-to-tasks")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ci
}
