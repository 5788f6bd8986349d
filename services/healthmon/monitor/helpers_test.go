package monitor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/insightpulse/pulsehub/services/healthmon/store"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// wait bounds every wait on a condition in these tests.
const wait = 10 * time.Second

type env struct {
	srv  *server.Server
	deps service.Deps
	js   jetstream.JetStream
}

// newEnv runs a JetStream server with the hub's streams (unless bare).
func newEnv(t testing.TB, bare bool) env {
	t.Helper()
	srv := natstest.RunServer(t)
	nc, js := natstest.Connect(t, srv.ClientURL())
	if !bare {
		natstest.EnsureStreams(t, js)
	}
	return env{srv: srv, js: js, deps: service.Deps{Conn: nc, JS: js, Logger: slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(), Streams: stream.DefaultConfig()}}
}

// testConfig listens on a free port and probes often.
func testConfig() Config {
	c := DefaultConfig()
	c.HTTP.Listen = "127.0.0.1:0"
	c.Interval = 50 * time.Millisecond
	c.Timeout = 2 * time.Second
	return c
}

func newMonitor(t *testing.T, e env, c Config, opts ...Option) *Monitor {
	t.Helper()
	m, err := New(e.deps, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// start runs m until the test ends and returns its base URL; stop ends it
// and returns Run's error.
func start(t *testing.T, m *Monitor) (base string, stop func() error) {
	t.Helper()
	if err := m.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var stopped atomic.Bool
	var err error
	stop = func() error {
		if stopped.CompareAndSwap(false, true) {
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return "http://" + m.Addr(), stop
}

// fakeService answers GET /health with a status code that tests change.
type fakeService struct {
	code atomic.Int32
	srv  *httptest.Server
}

func newFakeService(t testing.TB) *fakeService {
	t.Helper()
	f := &fakeService{}
	f.code.Store(200)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		code := int(f.code.Load())
		w.WriteHeader(code)
		if code == 200 {
			_, _ = w.Write([]byte(`{"status": "pass"}`))
		} else {
			_, _ = w.Write([]byte(`{"status": "fail"}`))
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

func viewTarget(v page.View, name string) (page.Target, bool) {
	for _, t := range v.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return page.Target{}, false
}

func statusOf(m *Monitor, name string) status.Status {
	t, ok := viewTarget(m.View(), name)
	if !ok {
		return ""
	}
	return t.Status
}

// transitions returns the events stored on health.<target>.>, oldest first.
func transitions(t *testing.T, js jetstream.JetStream, target string) []jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, events.StreamHealth)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if tgt, _, err := events.ParseHealthSubject(m.Subject); err == nil && tgt == target {
			out = append(out, *m)
		}
	}
	return out
}

func history(t *testing.T, js jetstream.JetStream, target string) []store.Record {
	t.Helper()
	h, err := store.New(js, stream.DefaultConfig()).History(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func counterValue(c prometheus.Counter) float64 {
	var d dto.Metric
	_ = c.Write(&d)
	return d.GetCounter().GetValue()
}

func gaugeValue(g prometheus.Gauge) float64 {
	var d dto.Metric
	_ = g.Write(&d)
	return d.GetGauge().GetValue()
}
