// Package ingesttest runs the ingester for tests against a real
// in-process JetStream: one nats-server (on a fixed port, so a test can
// stop and restart it), the hub's streams, a service connection as the
// hub makes it, and the ingester's HTTP server on a loopback port. Every
// piece is stopped by t.Cleanup.
package ingesttest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// NATS is a JetStream server that can be stopped and started again with
// its store and port.
type NATS struct {
	tb   testing.TB
	opts *server.Options
	Srv  *server.Server // nil while stopped
	URL  string
}

// StartNATS starts a JetStream server with the hub's streams.
func StartNATS(tb testing.TB) *NATS {
	tb.Helper()
	o := natstest.Options(tb.TempDir())
	o.Port = natstest.FreePort(tb)
	n := &NATS{tb: tb, opts: o}
	n.Srv = natstest.Start(tb, o.Clone())
	n.URL = n.Srv.ClientURL()
	tb.Cleanup(n.Stop)
	_, js := natstest.Connect(tb, n.URL)
	natstest.EnsureStreams(tb, js)
	return n
}

// Stop shuts the server down (its store stays for Restart).
func (n *NATS) Stop() {
	natstest.Shutdown(n.Srv)
	n.Srv = nil
}

// Restart starts the server again on the same port and store.
func (n *NATS) Restart() {
	n.tb.Helper()
	n.Srv = natstest.Start(n.tb, n.opts.Clone())
}

// Deps connects as a service does (reconnecting forever) and returns the
// dependencies Run takes, logging into log.
func (n *NATS) Deps(tb testing.TB, log io.Writer) service.Deps {
	tb.Helper()
	logger := slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := service.Open(service.NATSConfig{URL: n.URL, RequestTimeout: 2 * time.Second},
		service.ConnOptions{Name: "ingesttest", Logger: logger})
	if err != nil {
		tb.Fatalf("ingesttest: connect: %v", err)
	}
	tb.Cleanup(c.NC.Close)
	natstest.WaitFor(tb, natstest.Wait, "the service connection", c.NC.IsConnected)
	return service.Deps{Conn: c.NC, JS: c.JS, Logger: logger, Registry: prometheus.NewRegistry(), Streams: stream.DefaultConfig()}
}

// Ingester is a running ingester HTTP server.
type Ingester struct {
	URL  string // http://127.0.0.1:<port>
	Deps service.Deps
	Log  *Buffer // every log line
}

// Serve runs the ingester's HTTP server (no background loops) for cfg on
// a loopback port until the test ends, stopping without a drain period.
func Serve(tb testing.TB, n *NATS, cfg ingester.Config) *Ingester {
	tb.Helper()
	logs := &Buffer{}
	deps := n.Deps(tb, logs)
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.DrainPeriod = 0 // nobody to drain: stop at once
	srv, err := ingester.NewServer(deps, cfg)
	if err != nil {
		tb.Fatalf("ingesttest: %v", err)
	}
	if err := srv.Listen(); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("ingesttest: server stopped with %v", err)
		}
	})
	return &Ingester{URL: "http://" + srv.Addr(), Deps: deps, Log: logs}
}

// Post sends body to path with headers and returns the status and the answer.
func (i *Ingester) Post(tb testing.TB, path string, header http.Header, body []byte) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, i.URL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Messages returns every message stored in stream, oldest first.
func Messages(tb testing.TB, js jetstream.JetStream, name string) []*jetstream.RawStreamMsg {
	tb.Helper()
	s := lookup(tb, js, name)
	st := s.CachedInfo().State
	var out []*jetstream.RawStreamMsg
	for seq := st.FirstSeq; seq <= st.LastSeq && st.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			tb.Fatalf("stream %s seq %d: %v", name, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// Count is how many messages stream holds.
func Count(tb testing.TB, js jetstream.JetStream, name string) uint64 {
	tb.Helper()
	return lookup(tb, js, name).CachedInfo().State.Msgs
}

func lookup(tb testing.TB, js jetstream.JetStream, name string) jetstream.Stream {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		tb.Fatalf("stream %s: %v", name, err)
	}
	return s
}

// Clock is a settable clock (for the fake Odoo's write_date and the
// pollers' now).
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// Client is a plain JetStream connection for checking what was stored.
func (n *NATS) Client(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	return natstest.Connect(tb, n.URL)
}

// Buffer is the shared test log sink.
type Buffer = natstest.LogBuffer

// Metric is the value of the counter or gauge name whose labels include
// labels (nil: the series without labels), from reg; the test fails when
// there is no such series.
func Metric(tb testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m.GetLabel(), labels) {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	tb.Fatalf("ingesttest: no series %s%v", name, labels)
	return 0
}

func hasLabels(pairs []*dto.LabelPair, want map[string]string) bool {
	got := map[string]string{}
	for _, p := range pairs {
		got[p.GetName()] = p.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
