package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The JetStream floor of scenario 9: what any job runner built on this
// embedded JetStream pays at least per job, with none of the hub's
// promises — no job records (no states, no cancel, no result cache, no
// attempts across restarts), no retry policy, no logs or metrics. Each
// job is a message in JOBS pulled by one durable consumer (nats.go's
// Messages iterator, 128 a pull) and handed to 64 workers; a worker POSTs
// it to the no-op service with River's worker code, publishes the answer
// to RESULTS (asynchronously, with a Nats-Msg-Id, waiting for its PubAck)
// and acknowledges the message. Exactly-once result publication is the
// one promise it keeps, so that the row is the floor of the hub's work,
// not of a fire-and-forget runner.
const (
	floorSubject = "jobs.benchfloor.work"
	floorResults = "results.benchfloor.work"
	floorWorkers = 64
)

// floorRun is one floor round in this (child) process, on an embedded
// JetStream of its own, after an unmeasured warm-up.
func floorRun(ctx context.Context, a childArgs) (PeerRun, error) {
	env, err := startNATS()
	if err != nil {
		return PeerRun{}, err
	}
	defer env.close()
	w := newNoopWorker(a.URL)
	defer w.close()
	if _, err := floorRound(ctx, env.js, w, warmUp(a.Jobs), "warm"); err != nil {
		return PeerRun{}, fmt.Errorf("warm-up: %w", err)
	}
	return floorRound(ctx, env.js, w, a.Jobs, "measured")
}

// floorRound stores n job messages, then times a consumer working them.
func floorRound(ctx context.Context, js jetstream.JetStream, w *noopWorker, n int, name string) (PeerRun, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for i := range n {
		m := nats.NewMsg(floorSubject)
		m.Data = []byte(`{"n":1}`)
		m.Header.Set(jetstream.MsgIDHeader, name+"-job-"+strconv.Itoa(i))
		if _, err := js.PublishMsgAsync(m); err != nil {
			return PeerRun{}, err
		}
		if (i+1)%1000 == 0 || i == n-1 { // within nats.go's 4,000 unacknowledged publishes
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return PeerRun{}, fmt.Errorf("jobs not stored: %w", ctx.Err())
			}
		}
	}
	cons, err := js.CreateConsumer(ctx, events.StreamJobs, jetstream.ConsumerConfig{Durable: "benchfloor-" + name,
		FilterSubject: floorSubject, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxAckPending: 4 * floorWorkers})
	if err != nil {
		return PeerRun{}, err
	}
	defer func() {
		_ = js.DeleteConsumer(context.Background(), events.StreamJobs, "benchfloor-"+name)
		for st, subject := range map[string]string{events.StreamJobs: floorSubject, events.StreamResults: floorResults} {
			if s, err := js.Stream(context.Background(), st); err == nil {
				_ = s.Purge(context.Background(), jetstream.WithPurgeSubject(subject))
			}
		}
	}()
	start, cpu0 := time.Now(), cpuTime(os.Getpid())
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * floorWorkers))
	if err != nil {
		return PeerRun{}, err
	}
	work := make(chan jetstream.Msg)
	var (
		left     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	left.Store(int64(n))
	finished := make(chan struct{})
	for range floorWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				if err := floorJob(ctx, js, w, m); err != nil {
					firstErr.CompareAndSwap(nil, err)
					cancel()
					return
				}
				if left.Add(-1) == 0 {
					close(finished)
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for {
			m, err := it.Next()
			if err != nil {
				return // stopped
			}
			select {
			case work <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	select {
	case <-finished:
	case <-ctx.Done():
	}
	elapsed, cpu := time.Since(start), cpuTime(os.Getpid())-cpu0
	it.Stop()
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return PeerRun{}, err
	}
	if left.Load() > 0 {
		return PeerRun{}, fmt.Errorf("%d of %d jobs after the round's time: %w", int64(n)-left.Load(), n, ctx.Err())
	}
	return PeerRun{Jobs: n, Elapsed: elapsed, PerSecond: float64(n) / elapsed.Seconds(), CPUPerJob: cpu / time.Duration(n),
		RSS: peakRSS(os.Getpid())}, nil
}

// floorJob is one job: the call, its answer stored once, the ack.
func floorJob(ctx context.Context, js jetstream.JetStream, w *noopWorker, m jetstream.Msg) error {
	meta, err := m.Metadata()
	if err != nil {
		return err
	}
	if err := w.call(ctx, m.Data(), "floor-"+strconv.FormatUint(meta.Sequence.Stream, 10)); err != nil {
		return err
	}
	r := nats.NewMsg(floorResults)
	r.Data = []byte(`{}`)
	r.Header.Set(jetstream.MsgIDHeader, "floor-result-"+strconv.FormatUint(meta.Sequence.Stream, 10))
	f, err := js.PublishMsgAsync(r)
	if err != nil {
		return err
	}
	select {
	case <-f.Ok():
	case err := <-f.Err():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	return m.Ack()
}
