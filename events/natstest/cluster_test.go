package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A killed node vanishes from its peers without stepping down: the R3
// stream it led gets a new leader from the election timeout, takes
// writes again, and the node catches up after Restart.
func TestKilledStreamLeaderIsReplacedByAnElection(t *testing.T) {
	c := RunCluster(t, "kill", 3)
	_, js := Connect(t, c.URLs())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "K", Subjects: []string{"k"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "k", []byte("before")); err != nil {
		t.Fatal(err)
	}
	old := c.StreamLeader("K")
	killed := time.Now()
	c.Kill(old)
	t.Logf("kill took %s", time.Since(killed).Round(time.Millisecond))
	leader := c.StreamLeader("K")
	t.Logf("stream leader %d killed; node %d elected after %s", old, leader, time.Since(killed).Round(time.Millisecond))
	WaitFor(t, Wait, "a publish after the election", func() bool {
		_, err := js.Publish(ctx, "k", []byte("after"))
		return err == nil
	})
	c.Restart(old)
	c.WaitForStreamCurrent("K")
}
