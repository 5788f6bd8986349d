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
// write), the same write published asynchronously, and a KV read (a
// record look-up). Each job costs a few of these besides its HTTP call:
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
	b.Run("kv-get", func(b *testing.B) {
		parallel(b, func(i int64) error { _, err := kv.Get(ctx, key(i)); return err })
	})
	_ = jetstream.ErrKeyNotFound
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
