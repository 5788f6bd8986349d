// Package ingestbench measures the ingester: signed GitHub deliveries
// POSTed over loopback HTTP into a running ingester (signature check,
// envelope, JetStream publish and PubAck, the 202 answer) at a given
// concurrency, and, for comparison, the same payloads published straight
// to JetStream with a synchronous publish at the same concurrency. The
// ratio of the two is the ingester's cost.
//
// The ingester's Go benchmark runs it (go test -bench Ingest ./ingestbench)
// and so can the bench program (bench/): Start an ingester against any
// JetStream, Run each scenario, read the numbers from Result.
package ingestbench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Mode is what a scenario measures.
type Mode string

// The modes.
const (
	HTTP   Mode = "http"   // signed deliveries POSTed to the ingester
	Direct Mode = "direct" // the same bodies published straight to JetStream
	// NoopHTTP POSTs the same requests to a handler that reads the body
	// and answers 202 without doing anything: the floor the HTTP client
	// and server themselves cost on this machine.
	NoopHTTP Mode = "noop-http"
)

// Scenario is one measurement.
type Scenario struct {
	Mode        Mode
	Concurrency int    // senders at once; default 1
	Deliveries  int    // how many in all; default 1000
	Event       string // X-GitHub-Event; default push
	Payload     []byte // the body of every delivery (e.g. a push payload of 7 KB)
	// Duration, when set, sends for that long instead of a number of
	// deliveries (Deliveries is then what was sent).
	Duration time.Duration
	// URL is where HTTP deliveries go instead of the Bench's ingester: a
	// peer measured with the same requests. Any 2xx answer counts.
	URL string
	// Client sends HTTP deliveries: net/http's (GoClient, the default) or
	// RawClient, the same requests for less of the machine's CPU.
	Client Client
}

// Result is what a scenario measured.
type Result struct {
	Scenario  Scenario
	Elapsed   time.Duration
	PerSecond float64       // deliveries stored per second
	P50, P99  time.Duration // per-delivery latency: request to answer, or publish to PubAck
}

// String is one line for a report.
func (r Result) String() string {
	return fmt.Sprintf("%-6s c=%-3d n=%-6d %8.0f deliveries/s  p50 %7.3f ms  p99 %7.3f ms", r.Scenario.Mode, r.Scenario.Concurrency,
		r.Scenario.Deliveries, r.PerSecond, ms(r.P50), ms(r.P99))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// secret signs the benchmark's deliveries.
const secret = "ingestbench webhook secret"

// Bench is an ingester serving on a loopback port in front of a JetStream.
type Bench struct {
	js     jetstream.JetStream
	url    string
	noop   string // URL of the no-op handler (NoopHTTP)
	secret string
	client *http.Client
	stop   context.CancelFunc
	done   chan error
	run    atomic.Int64 // makes delivery GUIDs unique across scenarios
}

// Start starts an ingester (GitHub endpoint only, JSON request logs
// discarded) on 127.0.0.1 in front of js. The hub's streams are created
// with their defaults when GITHUB does not exist; an existing hub's
// streams are left as they are.
func Start(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) (*Bench, error) {
	if _, err := js.Stream(ctx, events.StreamGitHub); errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := stream.Ensure(ctx, js, stream.Specs(stream.DefaultConfig())...); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("ingestbench: %w", err)
	}
	cfg := ingester.DefaultConfig()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.DrainPeriod = 0 // a benchmark's ingester has nobody to drain
	cfg.GitHub.WebhookSecrets = []config.Secret{config.NewSecret(secret)}
	deps := service.Deps{Conn: nc, JS: js, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(), Streams: stream.DefaultConfig()}
	srv, err := ingester.NewServer(deps, cfg)
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	srv.Handle("POST /noop", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{}`)
	}))
	b := &Bench{js: js, url: "http://" + srv.Addr() + "/github", noop: "http://" + srv.Addr() + "/noop", secret: secret, stop: stop, done: make(chan error, 1),
		client: newClient()}
	go func() { b.done <- srv.Run(sctx) }()
	return b, nil
}

// Attach measures an ingester that runs elsewhere (a `hub run` process):
// HTTP scenarios POST to url (its /github) signed with secret; js (may be
// nil when only HTTP scenarios run) serves the Direct ones.
func Attach(js jetstream.JetStream, url, secret string) *Bench {
	return &Bench{js: js, url: url, secret: secret,
		client: newClient()}
}

// newClient is the load generator's client: keep-alive connections for
// every sender, and no Accept-Encoding (Go's transport asks for gzip on
// its own; GitHub's sender does not, nor does wrk): a peer that
// compresses its answers when asked (Benthos's http_server does) spent
// ~45% of its CPU on gzip writers for 0-byte answers.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256, DisableCompression: true}}
}

// Close stops the ingester Start started.
func (b *Bench) Close() error {
	b.client.CloseIdleConnections()
	if b.stop == nil {
		return nil
	}
	b.stop()
	return <-b.done
}

// Run measures one scenario. Every delivery has its own GUID, so each one
// is stored (none is a duplicate).
func (b *Bench) Run(ctx context.Context, s Scenario) (Result, error) {
	s.Concurrency = max(s.Concurrency, 1)
	if s.Deliveries <= 0 {
		s.Deliveries = 1000
	}
	if s.Event == "" {
		s.Event = "push"
	}
	if len(s.Payload) == 0 {
		return Result{}, errors.New("ingestbench: no payload")
	}
	if s.Duration > 0 {
		return b.runFor(ctx, s)
	}
	run := b.run.Add(1)
	lat := make([]time.Duration, s.Deliveries)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range s.Concurrency {
		wg.Go(func() {
			send, done, err := b.workerSender(s)
			if err != nil {
				once.Do(func() { firstErr = err })
				return
			}
			defer done()
			for i := next.Add(1) - 1; i < int64(s.Deliveries) && ctx.Err() == nil; i = next.Add(1) - 1 {
				t := time.Now()
				if err := send(ctx, fmt.Sprintf("%08x-0000-4000-8000-%012x", run, i)); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return Result{}, firstErr
	}
	slices.Sort(lat)
	return Result{Scenario: s, Elapsed: elapsed, PerSecond: float64(s.Deliveries) / elapsed.Seconds(),
		P50: lat[len(lat)*50/100], P99: lat[min(len(lat)*99/100, len(lat)-1)]}, nil
}

// runFor is Run for s.Duration: each sender keeps its own latencies.
func (b *Bench) runFor(ctx context.Context, s Scenario) (Result, error) {
	run := b.run.Add(1)
	var next atomic.Int64
	lats := make([][]time.Duration, s.Concurrency)
	errs := make([]error, s.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(s.Duration)
	for w := range s.Concurrency {
		wg.Go(func() {
			send, done, err := b.workerSender(s)
			if err != nil {
				errs[w] = err
				return
			}
			defer done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t := time.Now()
				if err := send(ctx, fmt.Sprintf("%08x-0000-4000-8000-%012x", run, next.Add(1))); err != nil {
					errs[w] = err
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := cmp.Or(errors.Join(errs...), ctx.Err()); err != nil {
		return Result{}, err
	}
	lat := slices.Concat(lats...)
	if len(lat) == 0 {
		return Result{}, errors.New("ingestbench: nothing was sent")
	}
	s.Deliveries = len(lat)
	slices.Sort(lat)
	return Result{Scenario: s, Elapsed: elapsed, PerSecond: float64(len(lat)) / elapsed.Seconds(),
		P50: lat[len(lat)*50/100], P99: lat[min(len(lat)*99/100, len(lat)-1)]}, nil
}

// workerSender is one sender's function for s, and what to call when it
// is done: the raw client's has a connection of its own.
func (b *Bench) workerSender(s Scenario) (send func(ctx context.Context, guid string) error, done func(), err error) {
	if s.Mode == HTTP && s.Client == RawClient {
		rs, err := newRawSender(cmp.Or(s.URL, b.url), s.Event, b.secret, s.Payload)
		if err != nil {
			return nil, nil, err
		}
		return rs.send, rs.close, nil
	}
	return b.sender(s), func() {}, nil
}

// sender returns the function that stores one delivery in s's mode.
func (b *Bench) sender(s Scenario) func(ctx context.Context, guid string) error {
	if s.Mode == Direct {
		subject := events.GitHubSubject(s.Event, "")
		return func(ctx context.Context, guid string) error {
			m := nats.NewMsg(subject)
			m.Header.Set(events.HeaderMsgID, guid)
			m.Data = s.Payload
			_, err := b.js.PublishMsg(ctx, m)
			return err
		}
	}
	sig := githubhook.SignatureValue(b.secret, s.Payload)
	url := cmp.Or(s.URL, b.url)
	if s.Mode == NoopHTTP {
		url = b.noop
	}
	return func(ctx context.Context, guid string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(s.Payload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", s.Event)
		req.Header.Set("X-GitHub-Delivery", guid)
		req.Header.Set(githubhook.SignatureHeader, sig)
		resp, err := b.client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("ingestbench: delivery %s answered %d", guid, resp.StatusCode)
		}
		return nil
	}
}

// Bodies sends n signed deliveries of size bytes at once, each with its
// length hidden (chunked) when chunked is set, and returns how many got
// each status. Nothing is retried: a 503 (the body budget full, or NATS
// refusing) is counted as answered.
func (b *Bench) Bodies(ctx context.Context, n, size int, chunked bool) (map[int]int, error) {
	payload := make([]byte, 0, size)
	payload = append(payload, `{"action":"opened","pad":"`...)
	payload = append(payload, bytes.Repeat([]byte("x"), size-len(payload)-2)...)
	payload = append(payload, `"}`...)
	sig := githubhook.SignatureValue(b.secret, payload)
	run := b.run.Add(1)
	var mu sync.Mutex
	statuses := map[int]int{}
	var firstErr error
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var body io.Reader = bytes.NewReader(payload)
			if chunked {
				body = io.MultiReader(body) // hides the length
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, body)
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-GitHub-Event", "issues")
				req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("%08x-1111-4000-8000-%012x", run, i))
				req.Header.Set(githubhook.SignatureHeader, sig)
				var resp *http.Response
				if resp, err = b.client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					mu.Unlock()
				}
			}
			if err != nil {
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return statuses, firstErr
}
