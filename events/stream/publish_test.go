package stream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A publish made while no stream answers (a stream leader being elected;
// here the stream created a moment later) is retried until it is stored,
// within the caller's deadline, and stored once.
func TestPublishRidesOutAStreamThatIsNotThereYet(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		time.Sleep(700 * time.Millisecond) // longer than nats.go's own 2 retries 250 ms apart
		_, _ = js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "LATE", Subjects: []string{"late.>"}})
	}()
	msg := nats.NewMsg("late.x")
	msg.Header.Set(jetstream.MsgIDHeader, "id-1")
	start := time.Now()
	ack, err := stream.Publish(ctx, js, msg)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	t.Logf("stored after %s", time.Since(start).Round(time.Millisecond))
	if ack.Stream != "LATE" || ack.Sequence != 1 {
		t.Fatalf("ack = %+v", ack)
	}
	// The same message again is a duplicate, not a second copy.
	ack, err = stream.Publish(ctx, js, msg)
	if err != nil || !ack.Duplicate {
		t.Fatalf("again: %+v %v", ack, err)
	}
}

// The deadline bounds the retries, and an answer (a refusal) is not
// retried.
func TestPublishStopsAtTheDeadlineAndOnARefusal(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := stream.Publish(ctx, js, nats.NewMsg("nowhere.x"))
	if err == nil {
		t.Fatal("stored with no stream")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("took %s with a 600ms deadline", took)
	}
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, MaxMsgSize: 10}); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	start = time.Now()
	_, err = stream.Publish(ctx2, js, &nats.Msg{Subject: "s.x", Data: make([]byte, 100)})
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || time.Since(start) > time.Second {
		t.Fatalf("a refused message: %v after %s", err, time.Since(start))
	}
	// A good one still goes through.
	if _, err := stream.Publish(ctx2, js, &nats.Msg{Subject: "s.x", Data: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
}

// PublishAsync sends at once and Wait returns the acknowledgement; a
// message that no stream stores yet continues in Publish's retry loop
// (stored once), and a refusal is returned as it is.
func TestPublishAsyncWaitsLikePublish(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		time.Sleep(700 * time.Millisecond)
		_, _ = js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "LATE", Subjects: []string{"late.>"}, MaxMsgSize: 64})
	}()
	msg := nats.NewMsg("late.x")
	msg.Header.Set(jetstream.MsgIDHeader, "id-1")
	ack, err := stream.PublishAsync(ctx, js, msg).Wait(ctx)
	if err != nil || ack.Stream != "LATE" || ack.Sequence != 1 {
		t.Fatalf("ack = %+v, %v", ack, err)
	}
	// Several in flight at once, each waited for: the duplicate is one.
	ps := []*stream.Pending{stream.PublishAsync(ctx, js, msg), stream.PublishAsync(ctx, js, &nats.Msg{Subject: "late.y", Data: []byte("ok")})}
	if ack, err := ps[0].Wait(ctx); err != nil || !ack.Duplicate {
		t.Fatalf("again: %+v %v", ack, err)
	}
	if ack, err := ps[1].Wait(ctx); err != nil || ack.Sequence != 2 {
		t.Fatalf("second: %+v %v", ack, err)
	}
	start := time.Now()
	_, err = stream.PublishAsync(ctx, js, &nats.Msg{Subject: "late.z", Data: make([]byte, 100)}).Wait(ctx)
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || time.Since(start) > time.Second {
		t.Fatalf("a refused message: %v after %s", err, time.Since(start))
	}
	if _, err := stream.PublishAsync(ctx, js, &nats.Msg{Subject: "late.z", Data: []byte("ok")}).Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// With the server gone, Wait gives up after an attempt's time for a
// message that may not be sent again (no Nats-Msg-Id), and at once when
// its context ends.
func TestPublishAsyncWaitGivesUpWhenNoAnswerComes(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, js := natstest.Connect(t, srv.ClientURL())
	natstest.Shutdown(srv)
	// Once the client knows, it buffers what it publishes until it reconnects.
	natstest.WaitFor(t, 5*time.Second, "the client to see the server gone", func() bool { return nc.Status() == nats.RECONNECTING })
	ctx := context.Background()
	start := time.Now()
	if _, err := stream.PublishAsync(ctx, js, nats.NewMsg("kv.x")).Wait(ctx); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("gave up after %s", took)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := stream.PublishAsync(ctx, js, nats.NewMsg("kv.x")).Wait(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v with a cancelled context", err)
	}
}

// WaitTimeout is Wait within d: with nats.go's own retries off, a message
// no stream stores yet is stored by the retry loop within d (once), and
// with no stream at all it gives up after d, also when d is shorter than
// an attempt.
func TestPublishAsyncWaitTimeoutBoundsTheRetries(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := context.Background()
	go func() {
		time.Sleep(700 * time.Millisecond)
		_, _ = js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "LATE", Subjects: []string{"late.>"}})
	}()
	msg := nats.NewMsg("late.x")
	msg.Header.Set(jetstream.MsgIDHeader, "id-1")
	ack, err := stream.PublishAsync(ctx, js, msg, jetstream.WithRetryAttempts(0)).WaitTimeout(ctx, 5*time.Second)
	if err != nil || ack.Stream != "LATE" || ack.Sequence != 1 {
		t.Fatalf("ack = %+v, %v", ack, err)
	}
	if ack, err := stream.PublishAsync(ctx, js, msg, jetstream.WithRetryAttempts(0)).WaitTimeout(ctx, 5*time.Second); err != nil || !ack.Duplicate {
		t.Fatalf("again: %+v %v", ack, err)
	}
	for _, d := range []time.Duration{300 * time.Millisecond, 1500 * time.Millisecond} {
		start := time.Now()
		m := nats.NewMsg("nowhere.x")
		m.Header.Set(jetstream.MsgIDHeader, "id-2")
		if _, err := stream.PublishAsync(ctx, js, m, jetstream.WithRetryAttempts(0)).WaitTimeout(ctx, d); err == nil {
			t.Fatal("stored with no stream")
		}
		if took := time.Since(start); took < d-50*time.Millisecond || took > d+time.Second {
			t.Fatalf("gave up after %s with %s", took, d)
		}
	}
}
