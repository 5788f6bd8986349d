package lease_test

import (
	"context"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/lease"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A holder whose NATS server goes away stops its work before the lease
// can expire, and a replica on another server of the cluster takes over;
// the holder, back on its server, stands by.
func TestHolderCutOffFromNATSLosesTheLeaseAndStopsItsWork(t *testing.T) {
	t.Parallel()
	c := natstest.RunCluster(t, "lease", 3)
	urls := []string{natstest.URL(c.Servers[0]), natstest.URL(c.Servers[1])}
	streams := stream.Config{Replicas: 3}
	if _, err := lease.Open(t.Context(), connectOnly(t, urls[1]), streams); err != nil {
		t.Fatal(err)
	}
	w := newWork()
	l := lease.Lease{Streams: streams, Key: key, TTL: 2 * time.Second}
	l.JS = connectOnly(t, urls[0])
	a := start(t, l, "a", w.fn("a"))
	natstest.WaitFor(t, natstest.Wait, "a to run the work", func() bool { return w.running() == "a" })
	l.JS = connectOnly(t, urls[1])
	b := start(t, l, "b", w.fn("b"))
	b.waitLog(t, "standing by")

	c.Stop(0) // a's only server
	natstest.WaitFor(t, natstest.Wait, "a to stop its work", func() bool { return w.running() != "a" })
	a.waitLog(t, "lease lost")
	natstest.WaitFor(t, natstest.Wait, "b to take over", func() bool { return w.running() == "b" })
	w.checkOneAtATime(t)

	c.Restart(0)
	a.waitLog(t, "standing by")
	if w.running() != "b" || w.runCount("a") != 1 {
		t.Fatalf("after a's server came back: running %q, a started %d times", w.running(), w.runCount("a"))
	}
	if rec, ok, err := lease.Current(context.Background(), l.JS, key); err != nil || !ok || rec.Holder != "b" {
		t.Fatalf("the bucket says %+v (%v, %v), want b", rec, ok, err)
	}
}

// connectOnly connects to one server of the cluster and never to another.
func connectOnly(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Connect(t, url, nats.IgnoreDiscoveredServers())
	return js
}
