package dispatch

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// wait bounds every condition a test waits for.
const wait = 20 * time.Second

// bus is one test's JetStream with the hub's streams.
type bus struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func newBus(t *testing.T) *bus { return newBusWith(t, stream.DefaultConfig()) }

func newBusWith(t *testing.T, streams stream.Config) *bus {
	t.Helper()
	h := natstest.RunHub(t, streams)
	return &bus{nc: h.Conn, js: h.JS}
}

// running is a dispatcher run by a test; stop ends it and waits.
type running struct {
	*Dispatcher
	reg  *prometheus.Registry
	stop func() error
}

// testConfig is a dispatcher config for tests: an ephemeral port, quick
// polls and shutdowns, and the services given.
func testConfig(services map[string]channel.Config, routes ...route.Spec) Config {
	c := DefaultConfig()
	c.HTTP.Listen = "127.0.0.1:0"
	c.ShutdownGrace = 200 * time.Millisecond
	c.pollWait = 100 * time.Millisecond
	c.Services = services
	c.Routes = routes
	return c
}

func (b *bus) start(t *testing.T, cfg Config) *running {
	t.Helper()
	return b.startWith(t, cfg, nil)
}

// startWith is start with beforeRun called between New, which ensures
// the buckets and consumers, and Run.
func (b *bus) startWith(t *testing.T, cfg Config, beforeRun func()) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	deps := service.Deps{Conn: b.nc, JS: b.js, Logger: slog.New(slog.DiscardHandler), Registry: reg, Streams: stream.DefaultConfig()}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, deps, cfg)
	if err != nil {
		cancel()
		t.Fatalf("new dispatcher: %v", err)
	}
	if beforeRun != nil {
		beforeRun()
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &running{Dispatcher: d, reg: reg, stop: stop}
}

// svcConfig is a service entry for url with quick retries.
func svcConfig(url string, capacity int) channel.Config {
	return channel.Config{URL: url, Capacity: capacity, Timeout: 5 * time.Second,
		Retry: route.Retry{MaxAttempts: 5, InitialInterval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond}}
}

// seen is one call a fake service received.
type seen struct {
	At      time.Time
	Header  http.Header
	Body    []byte
	Replied time.Time // when the answer was written
}

// fake is an httptest microservice that records its calls and answers
// with answer(n, w, r) for call n (from 1).
type fake struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []seen
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	answer   func(n int, w http.ResponseWriter, r *http.Request)
}

func newFake(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *fake {
	t.Helper()
	f := &fake{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// newHeldFake is a fake that holds every call until release is closed
// (or the caller gives up on it), then answers 200 with body.
func newHeldFake(t *testing.T, body string) (f *fake, release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	return newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		reply(w, 200, body)
	}), release
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	cur := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if cur <= m || f.maxSeen.CompareAndSwap(m, cur) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, seen{At: time.Now(), Header: r.Header.Clone(), Body: body})
	n := len(f.calls)
	f.mu.Unlock()
	f.answer(n, w, r)
	f.mu.Lock()
	f.calls[n-1].Replied = time.Now()
	f.mu.Unlock()
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fake) call(i int) seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[i]
}

// reply writes a JSON answer.
func reply(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

func ok(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 200, `{"ok":true}`) }

// enqueue enqueues a job and fails the test on error.
func (b *bus) enqueue(t *testing.T, svc, task string, j jobs.Job) jobs.Enqueued {
	t.Helper()
	c, err := jobs.NewClient(context.Background(), b.js)
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Enqueue(context.Background(), svc, task, j)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return e
}

// job reads a job's record.
func (b *bus) job(t *testing.T, id string) jobstate.Record {
	t.Helper()
	r, err := jobs.Get(context.Background(), b.js, id)
	if err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	return r
}

// waitState waits until job id is in state s.
func (b *bus) waitState(t *testing.T, id string, s jobstate.State) jobstate.Record {
	t.Helper()
	var r jobstate.Record
	natstest.WaitFor(t, wait, "job "+id+" to be "+string(s), func() bool {
		var err error
		r, err = jobs.Get(context.Background(), b.js, id)
		return err == nil && r.State == s
	})
	return r
}

// stored is one message read back from a stream.
type stored struct {
	Subject string
	Seq     uint64
	Header  nats.Header
	Data    []byte
}

// read returns every message of streamName on filter.
func (b *bus) read(t *testing.T, streamName, filter string) []stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := b.js.Stream(ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, n := range info.State.Subjects {
		want += n
	}
	if want == 0 {
		return nil
	}
	oc, err := b.js.OrderedConsumer(ctx, streamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for uint64(len(out)) < want {
		m, err := oc.Next(jetstream.FetchMaxWait(wait))
		if err != nil {
			t.Fatalf("read %s %s: %v", streamName, filter, err)
		}
		meta, _ := m.Metadata()
		out = append(out, stored{Subject: m.Subject(), Seq: meta.Sequence.Stream, Header: m.Headers(), Data: m.Data()})
	}
	return out
}

// count is how many messages streamName holds on filter.
func (b *bus) count(t *testing.T, streamName, filter string) uint64 {
	t.Helper()
	s, err := b.js.Stream(context.Background(), streamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// waitCount waits until streamName holds n messages on filter.
func (b *bus) waitCount(t *testing.T, streamName, filter string, n uint64) {
	t.Helper()
	natstest.WaitFor(t, wait, "messages on "+filter, func() bool { return b.count(t, streamName, filter) >= n })
}

func decodeResult(t *testing.T, data []byte) Result {
	t.Helper()
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("result %s: %v", data, err)
	}
	return r
}

// publishEvent publishes an event with a fresh envelope on subject.
func (b *bus) publishEvent(t *testing.T, subject string, ev events.Event) {
	t.Helper()
	if _, err := b.js.PublishMsg(context.Background(), ev.Msg(subject)); err != nil {
		t.Fatal(err)
	}
}

func intp(n int) *int { return &n }

// counterValue reads one series of a counter or gauge from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metric
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

// watcher collects the messages published on a subject, de-duplicated by
// JetStream or not (a core subscription sees every publish).
type watcher struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

func (b *bus) watch(t *testing.T, subject string) *watcher {
	t.Helper()
	w := &watcher{}
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return w
}

func (w *watcher) wait(t *testing.T, n int) []*nats.Msg {
	t.Helper()
	natstest.WaitFor(t, wait, "published messages", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.msgs) >= n
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*nats.Msg(nil), w.msgs...)
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// lookedUp reports whether consumer has delivered a message more than once
// (its handler gave it back).
func (b *bus) lookedUp(t *testing.T, consumer string) bool {
	t.Helper()
	c, err := b.js.Consumer(context.Background(), events.StreamJobs, consumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumRedelivered > 0
}
