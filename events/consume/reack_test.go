package consume

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// After its connection is cut and comes back, the loop sends the acks of
// the messages it handled before again (any of them may have been lost
// with the connection, which would cost the ack wait), and the consumer
// still settles every message once.
func TestTheLoopResendsRecentAcksAfterAReconnect(t *testing.T) {
	hub := natstest.RunHub(t)
	if _, err := stream.EnsureConsumer(context.Background(), hub.JS, stream.ConsumerOptions{Name: route, Stream: events.StreamGitHub, Subjects: []string{"github.>"}}); err != nil {
		t.Fatal(err)
	}
	// The loop's own connection, named so the server can cut it.
	_, js := natstest.Connect(t, hub.URL, nats.Name("the-loop"), nats.ReconnectWait(10*time.Millisecond), nats.MaxReconnects(-1))
	// Every ack publish on the route's consumer, as the server sees it.
	var acks atomic.Int64
	sub, err := hub.Conn.Subscribe("$JS.ACK."+events.StreamGitHub+"."+route+".>", func(m *nats.Msg) {
		if string(m.Data) == "+ACK" {
			acks.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	f := &fixture{js: js, metrics: NewMetrics(nil), logs: &syncBuffer{}}
	var handled atomic.Int64
	f.run(t, func(context.Context, *Msg) error { handled.Add(1); return nil }, Retry{}, nil)
	const n = 5
	(&fixture{js: hub.JS}).publish(t, n)
	natstest.WaitFor(t, 10*time.Second, "every message acknowledged once", func() bool { return acks.Load() == n })

	cz, err := hub.Server.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cz.Conns {
		if c.Name == "the-loop" {
			if err := hub.Server.DisconnectClientByID(c.Cid); err != nil {
				t.Fatal(err)
			}
		}
	}
	natstest.WaitFor(t, 10*time.Second, "the acks sent again after the reconnect", func() bool { return acks.Load() == 2*n })
	if got := handled.Load(); got != n {
		t.Fatalf("%d messages handled, want %d", got, n)
	}
	if !strings.Contains(f.logs.String(), "re-sent recent acknowledgements") {
		t.Errorf("no log line says the acks were sent again: %s", f.logs.String())
	}
	// One more message after the recovery is handled and acknowledged once.
	(&fixture{js: hub.JS}).publish(t, 1)
	natstest.WaitFor(t, 10*time.Second, "the next message acknowledged", func() bool { return acks.Load() == 2*n+1 })
	ri, err := stream.RouteState(context.Background(), hub.JS, events.StreamGitHub, route)
	if err != nil || ri.AckPending != 0 || ri.Pending != 0 {
		t.Fatalf("route state %+v, %v: want nothing pending", ri, err)
	}
}

// recentAcks keeps what was sent within its window, at most
// maxRecentAcks of them, newest last.
func TestRecentAcksAreBounded(t *testing.T) {
	r := newRecentAcks(time.Hour)
	for i := range maxRecentAcks + 10 {
		r.add("$JS.ACK.S.C.1.1." + string(rune('a'+i%26)))
	}
	r.add("")
	if len(r.acks) != maxRecentAcks {
		t.Fatalf("%d remembered, want %d", len(r.acks), maxRecentAcks)
	}
	old := newRecentAcks(time.Millisecond)
	old.add("$JS.ACK.S.C.1.1.1")
	time.Sleep(5 * time.Millisecond) // lets the ack age past the window
	old.add("$JS.ACK.S.C.1.2.2")
	if len(old.acks) != 1 || old.acks[0].reply != "$JS.ACK.S.C.1.2.2" {
		t.Fatalf("remembered %+v, want only the newest", old.acks)
	}
}
