// Package dispatchbench measures the dispatcher's throughput: jobs per
// second to a no-op HTTP service at a given capacity, next to a plain Go
// HTTP client loop making the same calls at the same concurrency (the
// ceiling), and again with a second, always-failing service's jobs
// dispatched at the same time (what a dead service costs the healthy
// one). queue_job's maintainers measured about 155 jobs/s.
//
// Run it against a JetStream server of its own (the Go benchmark starts
// one): it creates consumers, jobs and results under service names of its
// own, and removes the consumers and messages when it is done, but the
// job records stay in the jobs bucket until their retention ends.
package dispatchbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Options shape the scenario; zero fields take the defaults.
type Options struct {
	Jobs        int           // jobs for the healthy service per scenario; default 5000
	Capacity    int           // the healthy service's capacity and the plain loop's concurrency; default 64
	FailingJobs int           // jobs for the always-failing service in the last scenario; default Jobs
	Timeout     time.Duration // the most one scenario may take; default 5m
	Logger      *slog.Logger  // the dispatcher's logs; default discarded
	// CPUProfile, when set, receives the CPU profile (pprof) of Jobs'
	// measured run: from the dispatcher's start to its last result.
	CPUProfile io.Writer
}

func (o Options) withDefaults() Options {
	if o.Jobs <= 0 {
		o.Jobs = 5000
	}
	if o.Capacity <= 0 {
		o.Capacity = 64
	}
	if o.FailingJobs <= 0 {
		o.FailingJobs = o.Jobs
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Throughput is one measured run.
type Throughput struct {
	N         int           `json:"n"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	PerSecond float64       `json:"per_second"`
	// CPUPerOp is the CPU time the whole process (the in-process
	// nats-server and HTTP services included) spent per job or call
	// during the run; 0 where the platform does not say.
	CPUPerOp time.Duration `json:"cpu_per_op_ns,omitempty"`
	// OtherDeliveries is how many messages the other services' job
	// consumers delivered during the run (the always-failing service's:
	// each one a pull, a record read and a Nak for a job that cannot run).
	OtherDeliveries uint64 `json:"other_deliveries,omitempty"`
}

func throughput(n int, d, cpu time.Duration) Throughput {
	return Throughput{N: n, Elapsed: d, PerSecond: float64(n) / d.Seconds(), CPUPerOp: cpu / time.Duration(max(n, 1))}
}

// Report is what Run measured.
type Report struct {
	Jobs        int        `json:"jobs"`
	Capacity    int        `json:"capacity"`
	Dispatcher  Throughput `json:"dispatcher"`   // jobs through the dispatcher to the no-op service
	PlainHTTP   Throughput `json:"plain_http"`   // the same calls from a plain client loop
	Ratio       float64    `json:"ratio"`        // Dispatcher / PlainHTTP
	WithFailing Throughput `json:"with_failing"` // healthy jobs while a failing service's jobs run too
	Drop        float64    `json:"drop"`         // 1 - WithFailing / Dispatcher
}

// String is the report in one paragraph, next to queue_job's 155 jobs/s.
func (r Report) String() string {
	s := fmt.Sprintf("dispatcher: %d jobs at capacity %d: %.0f jobs/s (queue_job: 155 jobs/s, %.0fx); "+
		"plain HTTP client loop: %.0f calls/s (dispatcher at %.0f%% of it); "+
		"with an always-failing second service: %.0f jobs/s (%.0f%% drop)",
		r.Jobs, r.Capacity, r.Dispatcher.PerSecond, r.Dispatcher.PerSecond/155, r.PlainHTTP.PerSecond, 100*r.Ratio,
		r.WithFailing.PerSecond, 100*r.Drop)
	if r.Dispatcher.CPUPerOp > 0 && r.PlainHTTP.CPUPerOp > 0 {
		s += fmt.Sprintf("; CPU per job %s (%s with the failing service), per plain call %s", r.Dispatcher.CPUPerOp.Round(time.Microsecond),
			r.WithFailing.CPUPerOp.Round(time.Microsecond), r.PlainHTTP.CPUPerOp.Round(time.Microsecond))
	}
	return s + fmt.Sprintf("; the failing service's jobs were delivered %d times meanwhile", r.WithFailing.OtherDeliveries)
}

// Noop is the no-op service every scenario calls: it reads the request
// and answers 200 {"ok":true}.
var Noop http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
})

// Run runs the three scenarios on deps' NATS connection. deps.Streams
// should describe the server's streams (they must exist).
func Run(ctx context.Context, deps service.Deps, o Options) (Report, error) {
	o = o.withDefaults()
	noop := httptest.NewServer(Noop)
	defer noop.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, `{"error":"down"}`, http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	rep := Report{Jobs: o.Jobs, Capacity: o.Capacity}
	var err error
	healthy := scenario{deps: deps, o: o, services: map[string]channel.Config{"noop": {URL: noop.URL, Capacity: o.Capacity}}}
	// A short unmeasured run first: the first scenario on a new server
	// otherwise pays for its buckets' first blocks and the heap's growth,
	// and the failing-service scenario after it looks faster than it is.
	warm := healthy
	warm.o.Jobs = min(max(1, o.Jobs/5), 1000)
	if _, err := warm.run(ctx, "noop"); err != nil {
		return rep, fmt.Errorf("warm-up: %w", err)
	}
	if rep.Dispatcher, err = healthy.run(ctx, "noop"); err != nil {
		return rep, fmt.Errorf("dispatcher scenario: %w", err)
	}
	if rep.PlainHTTP, err = plainLoop(ctx, noop.URL, o.Jobs, o.Capacity); err != nil {
		return rep, fmt.Errorf("plain HTTP scenario: %w", err)
	}
	withFailing := scenario{deps: deps, o: o, services: map[string]channel.Config{
		"noop": {URL: noop.URL, Capacity: o.Capacity},
		"fail": {URL: failing.URL, Capacity: o.Capacity, Retry: route.Retry{MaxAttempts: 3, InitialInterval: 50 * time.Millisecond}},
	}, extra: map[string]int{"fail": o.FailingJobs}}
	if rep.WithFailing, err = withFailing.run(ctx, "noop"); err != nil {
		return rep, fmt.Errorf("failing-service scenario: %w", err)
	}
	rep.Ratio = rep.Dispatcher.PerSecond / rep.PlainHTTP.PerSecond
	rep.Drop = 1 - rep.WithFailing.PerSecond/rep.Dispatcher.PerSecond
	return rep, nil
}

// Jobs runs the dispatcher scenario alone, after the same short warm-up
// as Run: o.Jobs jobs to the no-op service at url (one in another process,
// so that the CPU measured is the hub's alone: the dispatcher, the
// in-process nats-server and the results' counter).
func Jobs(ctx context.Context, deps service.Deps, o Options, url string) (Throughput, error) {
	o = o.withDefaults()
	healthy := scenario{deps: deps, o: o, services: map[string]channel.Config{"noop": {URL: url, Capacity: o.Capacity}}}
	warm := healthy
	warm.o.Jobs = min(max(1, o.Jobs/5), 1000)
	if _, err := warm.run(ctx, "noop"); err != nil {
		return Throughput{}, fmt.Errorf("warm-up: %w", err)
	}
	healthy.profile = o.CPUProfile
	return healthy.run(ctx, "noop")
}

// scenario is one dispatcher run: services by base name, jobs for the
// measured one, extra jobs for others.
type scenario struct {
	deps     service.Deps
	o        Options
	services map[string]channel.Config
	extra    map[string]int
	profile  io.Writer // the measured run's CPU profile, when set
}

func (s scenario) run(ctx context.Context, measured string) (Throughput, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	suffix := strings.ReplaceAll(events.NewID(), "-", "")[24:]
	names := map[string]string{}
	cfg := dispatch.DefaultConfig()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Services = map[string]channel.Config{}
	for base, sc := range s.services {
		names[base] = base + "-" + suffix
		cfg.Services[names[base]] = sc
	}
	defer s.cleanup(names)
	results, err := countResults(s.deps.Conn, events.ResultSubject(names[measured], "work"))
	if err != nil {
		return Throughput{}, err
	}
	defer results.stop()
	deps := s.deps
	deps.Logger, deps.Registry = s.o.Logger, prometheus.NewRegistry()
	// Jobs are enqueued the way they are into a running hub: with the
	// jobs bucket and the consumers there (New ensures them; Run starts
	// the loops), so each is recorded pending and stored after its
	// consumer was created.
	d, err := dispatch.New(ctx, deps, cfg)
	if err != nil {
		return Throughput{}, err
	}
	if err := enqueueMany(ctx, s.deps, names[measured], s.o.Jobs); err != nil {
		return Throughput{}, err
	}
	for base, n := range s.extra {
		if err := enqueueMany(ctx, s.deps, names[base], n); err != nil {
			return Throughput{}, err
		}
	}
	if s.profile != nil {
		if err := pprof.StartCPUProfile(s.profile); err != nil {
			return Throughput{}, err
		}
		defer pprof.StopCPUProfile() // stopped at the last result; again here is a no-op
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	cpu0 := cpuTime()
	go func() { done <- d.Run(rctx) }()
	werr := results.wait(ctx, s.o.Jobs)
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	if s.profile != nil {
		pprof.StopCPUProfile()
	}
	tp := throughput(s.o.Jobs, elapsed, cpu)
	tp.OtherDeliveries = s.deliveries(ctx, names)
	stop()
	if err := errors.Join(werr, <-done); err != nil {
		return Throughput{}, err
	}
	return tp, nil
}

// deliveries counts the messages the extra services' job consumers have
// delivered so far, redeliveries included.
func (s scenario) deliveries(ctx context.Context, names map[string]string) uint64 {
	var n uint64
	for base := range s.extra {
		c, err := s.deps.JS.Consumer(ctx, events.StreamJobs, jobs.ConsumerName(names[base]))
		if err != nil {
			continue
		}
		if info, err := c.Info(ctx); err == nil {
			n += info.Delivered.Consumer
		}
	}
	return n
}

// cleanup removes the scenario's consumers and messages.
func (s scenario) cleanup(names map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := s.deps.JS
	for _, name := range names {
		_ = js.DeleteConsumer(ctx, events.StreamJobs, jobs.ConsumerName(name))
		for streamName, subject := range map[string]string{events.StreamJobs: "jobs." + name + ".>",
			events.StreamResults: "results." + name + ".>", events.StreamDLQ: "dlq." + jobs.ConsumerName(name) + ".>"} {
			if st, err := js.Stream(ctx, streamName); err == nil {
				_ = st.Purge(ctx, jetstream.WithPurgeSubject(subject))
			}
		}
	}
}

// enqueueMany enqueues n no-op jobs for service from a few publishers.
func enqueueMany(ctx context.Context, deps service.Deps, svc string, n int) error {
	c, err := jobs.NewClient(ctx, deps.JS)
	if err != nil {
		return err
	}
	const workers = 16
	var next atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := c.Enqueue(ctx, svc, "work", jobs.Job{Payload: []byte(`{"n":1}`)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// resultCounter counts results published on a subject (a core
// subscription: it sees each publish as it happens).
type resultCounter struct {
	sub  *nats.Subscription
	n    atomic.Int64
	tick chan struct{}
}

func countResults(nc *nats.Conn, subject string) (*resultCounter, error) {
	c := &resultCounter{tick: make(chan struct{}, 1)}
	sub, err := nc.Subscribe(subject, func(*nats.Msg) {
		c.n.Add(1)
		select {
		case c.tick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	sub.SetPendingLimits(-1, -1)
	c.sub = sub
	return c, nc.Flush()
}

func (c *resultCounter) wait(ctx context.Context, n int) error {
	for c.n.Load() < int64(n) {
		select {
		case <-c.tick:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d results after the scenario's time: %w", c.n.Load(), n, ctx.Err())
		}
	}
	return nil
}

func (c *resultCounter) stop() { _ = c.sub.Unsubscribe() }

// plainLoop makes n calls at the given concurrency with a plain client,
// carrying the headers a dispatcher call carries.
func plainLoop(ctx context.Context, url string, n, concurrency int) (Throughput, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = concurrency
	client := &http.Client{Transport: t, Timeout: 30 * time.Second}
	defer t.CloseIdleConnections()
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), cpuTime()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := plainCall(ctx, client, url+"/work"); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return Throughput{}, err
	}
	return throughput(n, time.Since(start), cpuTime()-cpu0), nil
}

func plainCall(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"n":1}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", events.NewID())
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("plain call: %s", resp.Status)
	}
	return nil
}
