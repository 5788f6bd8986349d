package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// riverVersion is the River release the peer is built from (bench/go.mod).
const riverVersion = "v0.51.2"

// noopArgs is the River peer's job: one POST of its body to the no-op service.
type noopArgs struct {
	N int `json:"n"`
}

func (noopArgs) Kind() string { return "noop" }

// noopWorker POSTs each job to the no-op service with a shared
// keep-alive client, as the dispatcher does, and fails on any answer but
// 200: River's worker, and the JetStream floor's.
type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	client *http.Client
	url    string
}

func newNoopWorker(url string) *noopWorker {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 100, 64
	return &noopWorker{client: &http.Client{Transport: t, Timeout: 30 * time.Second}, url: url + "/work"}
}

func (w *noopWorker) close() { w.client.CloseIdleConnections() }

func (w *noopWorker) Work(ctx context.Context, job *river.Job[noopArgs]) error {
	return w.call(ctx, job.EncodedArgs, "river-"+strconv.FormatInt(job.ID, 10))
}

// call is one POST of body with the idempotency key.
func (w *noopWorker) call(ctx context.Context, body []byte, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("no-op service: %s", resp.Status)
	}
	return nil
}

// migrateRiver creates River's tables (rivermigrate, all migrations up).
func migrateRiver(ctx context.Context, dsn string) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// riverConfig is River's client config: tuned as River's own benchmark
// (`river bench`) runs it, or with River's defaults (FetchCooldown 100 ms,
// FetchPollInterval 1 s). Both work 64 jobs at a time, the dispatcher's capacity.
func riverConfig(tuned bool, workers *river.Workers) *river.Config {
	c := &river.Config{
		Logger:  slog.New(slog.DiscardHandler),
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 64}},
		Workers: workers,
	}
	if tuned {
		c.FetchCooldown, c.FetchPollInterval = 2*time.Millisecond, 20*time.Millisecond
	}
	return c
}

// riverRun is one River round in this (child) process: n jobs inserted
// first (InsertManyFast, 1,000 a query), then timed from the client's
// start to the n-th completion, after a short unmeasured warm-up with a
// client of its own. The CPU counts this process and every PostgreSQL
// process; the memory is this process's peak RSS and PostgreSQL's PSS.
func riverRun(ctx context.Context, a childArgs) (PeerRun, error) {
	pool, err := pgxpool.New(ctx, a.DSN)
	if err != nil {
		return PeerRun{}, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "TRUNCATE river_job"); err != nil {
		return PeerRun{}, fmt.Errorf("truncate river_job: %w", err)
	}
	w := newNoopWorker(a.URL)
	defer w.close()
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return PeerRun{}, err
	}
	if _, err := riverRound(ctx, pool, riverConfig(a.Tuned, workers), warmUp(a.Jobs), 0); err != nil {
		return PeerRun{}, fmt.Errorf("warm-up: %w", err)
	}
	return riverRound(ctx, pool, riverConfig(a.Tuned, workers), a.Jobs, a.ServerPID)
}

func riverRound(ctx context.Context, pool *pgxpool.Pool, cfg *river.Config, n, serverPID int) (PeerRun, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return PeerRun{}, err
	}
	params := make([]river.InsertManyParams, 0, 1000)
	for i := 0; i < n; i += 1000 {
		params = params[:0]
		for j := i; j < min(n, i+1000); j++ {
			params = append(params, river.InsertManyParams{Args: noopArgs{N: 1}})
		}
		if _, err := client.InsertManyFast(ctx, params); err != nil {
			return PeerRun{}, fmt.Errorf("insert jobs: %w", err)
		}
	}
	events, cancel := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: n + 1000, Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed}})
	defer cancel()
	rctx, stop := context.WithTimeout(ctx, 10*time.Minute)
	defer stop()
	pg0, _ := serverUsage(serverPID)
	start, cpu0 := time.Now(), cpuTime(os.Getpid())
	if err := client.Start(rctx); err != nil {
		return PeerRun{}, err
	}
	var werr error
	for done := 0; done < n && werr == nil; {
		select {
		case ev := <-events:
			if ev.Kind != river.EventKindJobCompleted {
				werr = fmt.Errorf("job %d failed: %v", ev.Job.ID, ev.Job.Errors)
			}
			done++
		case <-rctx.Done():
			werr = fmt.Errorf("%d of %d jobs after 10 minutes: %w", done, n, rctx.Err())
		}
	}
	elapsed, cpu := time.Since(start), cpuTime(os.Getpid())-cpu0
	pg1, pss := serverUsage(serverPID)
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := client.Stop(sctx); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return PeerRun{}, werr
	}
	return PeerRun{Jobs: n, Elapsed: elapsed, PerSecond: float64(n) / elapsed.Seconds(),
		CPUPerJob: cpu / time.Duration(n), ServerCPUPerJob: (pg1 - pg0) / time.Duration(n), RSS: peakRSS(os.Getpid()), ServerMemory: pss}, nil
}
