package intake_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
)

// BenchmarkPublish is the ingester's publish of a 7 KB event with 64 at
// once into an in-process JetStream (memory storage): Publisher.Publish
// (PublishAsync + WaitTimeout on PublishJS) against the synchronous
// stream.Publish within the same timeout it replaced. CPU of client and
// server together, per event:
//
//	go test -run '^$' -bench Publish -benchtime 20000x -count 5 ./intake
func BenchmarkPublish(b *testing.B) {
	srv := natstest.RunServer(b)
	nc, js := natstest.Connect(b, srv.ClientURL())
	cfg := jetstreamConfig()
	cfg.Duplicates = time.Minute
	if _, err := js.CreateStream(b.Context(), cfg); err != nil {
		b.Fatal(err)
	}
	pjs, err := intake.PublishJS(nc)
	if err != nil {
		b.Fatal(err)
	}
	p := &intake.Publisher{Conn: nc, JS: pjs, Timeout: 8 * time.Second}
	data := make([]byte, 7324)
	var n atomic.Int64
	event := func() events.Event {
		id := fmt.Sprintf("bench-%d", n.Add(1))
		return events.Event{ID: id, Source: "https://github.com/o/r", Type: "com.github.push", Time: time.Now(),
			ContentType: "application/json", CorrelationID: id, Data: data}
	}
	for _, tc := range []struct {
		name    string
		publish func(ctx context.Context, e events.Event) error
	}{
		{"async", func(ctx context.Context, e events.Event) error {
			_, err := p.Publish(ctx, "github.push.none", e)
			return err
		}},
		{"sync", func(ctx context.Context, e events.Event) error {
			ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
			defer cancel()
			_, err := stream.Publish(ctx, js, e.Msg("github.push.none"))
			return err
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetParallelism(32) // 64 senders on 2 cores
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := tc.publish(b.Context(), event()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
