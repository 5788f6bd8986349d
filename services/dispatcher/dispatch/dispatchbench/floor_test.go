package dispatchbench

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// floorConcurrency is the benchmark's capacity: the floor benchmarks run
// as many publishers as the dispatcher runs workers.
const floorConcurrency = 64

// BenchmarkJetStreamFloor measures, on the same in-process server as
// BenchmarkDispatcher, what one JetStream operation costs on its own at
// the dispatcher's concurrency: a synchronous KV write (a job-state
// write), the same write published asynchronously, one that rolls up the
// key's earlier revisions (a done write), a KV read (a record look-up),
// and one message of a pull of 8 with its ack. Each job costs a few of
// these besides its HTTP call:
//
//	go test -run '^$' -bench JetStreamFloor ./dispatch/dispatchbench/
func BenchmarkJetStreamFloor(b *testing.B) {
	d := deps(b)
	ctx := context.Background()
	kv, err := stream.EnsureBucket(ctx, d.JS, stream.Bucket(stream.DefaultConfig(), "floor", "floor benchmark", 10, 0))
	if err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 400) // about a job record
	key := func(i int64) string { return "k" + strconv.FormatInt(i%5000, 10) }
	b.Run("kv-put-sync", func(b *testing.B) {
		parallel(b, func(i int64) error { _, err := kv.Put(ctx, key(i), value); return err })
	})
	b.Run("kv-put-async", func(b *testing.B) {
		parallel(b, func(i int64) error {
			m := nats.NewMsg("$KV.floor." + key(i))
			m.Data = value
			f, err := d.JS.PublishMsgAsync(m)
			if err != nil {
				return err
			}
			select {
			case <-f.Ok():
				return nil
			case err := <-f.Err():
				return err
			}
		})
	})
	b.Run("kv-put-rollup", func(b *testing.B) { // a done write: it drops the key's earlier revisions
		parallel(b, func(i int64) error {
			m := nats.NewMsg("$KV.floor." + key(i))
			m.Data = value
			m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
			_, err := d.JS.PublishMsg(ctx, m)
			return err
		})
	})
	b.Run("kv-get", func(b *testing.B) {
		parallel(b, func(i int64) error { _, err := kv.Get(ctx, key(i)); return err })
	})
	b.Run("fetch-8-and-ack", func(b *testing.B) { fetchAndAck(b, d.JS, 8) })
}

// fetchAndAck measures a message pulled in a batch of batch from a
// durable consumer and acknowledged, the way consume.Loop does it; the
// messages are stored before the clock starts.
func fetchAndAck(b *testing.B, js jetstream.JetStream, batch int) {
	ctx := context.Background()
	name := "FLOOR" + strconv.Itoa(b.N)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}}); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(ctx, name) }()
	body := make([]byte, 200) // about a job
	for i := 0; i < b.N; i++ {
		if _, err := js.PublishAsync(name+".job", body); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("messages not stored")
	}
	cons, err := js.CreateConsumer(ctx, name, jetstream.ConsumerConfig{Durable: "floor", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1000})
	if err != nil {
		b.Fatal(err)
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	parallel(b, func(int64) error {
		if left.Load() <= 0 {
			return nil
		}
		msgs, err := cons.Fetch(batch, jetstream.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			return err
		}
		for m := range msgs.Messages() {
			left.Add(-1)
			if err := m.Ack(); err != nil {
				return err
			}
		}
		return nil
	})
}

// parallel runs op b.N times from floorConcurrency goroutines and reports
// ops/s and the process's CPU time per op.
func parallel(b *testing.B, op func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, floorConcurrency)
	cpu0 := cpuTime()
	start := time.Now()
	b.ResetTimer()
	for range floorConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := op(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	if c := cpuTime() - cpu0; c > 0 {
		b.ReportMetric(float64(c.Microseconds())/float64(b.N), "cpu-us/op")
	}
}
