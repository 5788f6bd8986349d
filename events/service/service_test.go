package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func startServer(t *testing.T, s *Server) (base string, stop func() error) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return "http://" + s.Addr(), stop
}

func TestHealthReportsEveryCheck(t *testing.T) {
	s := NewServer(HTTPConfig{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), NewRegistry())
	var healthy atomic.Bool
	healthy.Store(true)
	s.AddCheck("nats", func(context.Context) error { return nil })
	s.AddCheck("odoo", func(context.Context) error {
		if healthy.Load() {
			return nil
		}
		return errors.New("connection refused")
	})
	s.AddDetail("breakers", func(context.Context) any { return map[string]string{"ocr": "open"} })
	base, _ := startServer(t, s)
	get := func() (int, map[string]any) {
		resp, err := http.Get(base + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	if code, body := get(); code != 200 || body["status"] != "ok" || body["details"].(map[string]any)["breakers"].(map[string]any)["ocr"] != "open" {
		t.Fatalf("healthy: %d %v", code, body)
	}
	healthy.Store(false)
	code, body := get()
	odoo := body["checks"].(map[string]any)["odoo"].(map[string]any)
	if code != 503 || body["status"] != "fail" || odoo["error"] != "connection refused" {
		t.Fatalf("unhealthy: %d %v", code, body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "go_goroutines") {
		t.Fatal("metrics lack the Go collector")
	}
	if resp, _ := http.Post(base+"/health", "text/plain", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /health = %d", resp.StatusCode)
	}
}

func TestServerFinishesInFlightRequestsOnShutdown(t *testing.T) {
	s := NewServer(HTTPConfig{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), nil)
	entered := make(chan struct{})
	s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		time.Sleep(200 * time.Millisecond) // work in progress when shutdown starts
		_, _ = w.Write([]byte("done"))
	}))
	base, stop := startServer(t, s)
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request got %q", body)
	}
}

func TestCheckJetStream(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, js := natstest.Connect(t, srv.ClientURL())
	check := CheckJetStream(nc, js)
	if err := check(context.Background()); err != nil {
		t.Fatal(err)
	}
	natstest.Shutdown(srv)
	natstest.WaitFor(t, 5*time.Second, "the client to notice", func() bool { return !nc.IsConnected() })
	if err := check(context.Background()); err == nil {
		t.Fatal("check passed with NATS down")
	}
}

func TestConnectWithBadURLAndValidation(t *testing.T) {
	ps := NATSConfig{URL: "127.0.0.1:4222", CertFile: "c", Password: config.NewSecret("p")}.Validate("nats", true)
	if len(ps) != 3 {
		t.Fatalf("problems = %v", ps)
	}
	if ps := (NATSConfig{}).Validate("nats", true); len(ps) != 1 {
		t.Fatalf("missing url: %v", ps)
	}
	if _, err := Open(NATSConfig{}, ConnOptions{Name: "x"}); err == nil {
		t.Fatal("connect without URL")
	}
}

func TestLoggerIsJSONWithServiceAndLevel(t *testing.T) {
	var b bytes.Buffer
	l := NewLogger(&b, LogConfig{Level: "warn"}, "ingester")
	l.Info("hidden")
	l.Warn("shown", "secret", config.NewSecret("hunter2"))
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", b.String())
	}
	if line["service"] != "ingester" || line["msg"] != "shown" || line["secret"] != "[redacted]" {
		t.Fatalf("line = %v", line)
	}
	if ps := (LogConfig{Level: "loud"}).Validate("log"); len(ps) != 1 {
		t.Fatalf("bad level accepted: %v", ps)
	}
}

func TestOpenCountsAndReportsAClosedConnection(t *testing.T) {
	srv := natstest.RunServer(t)
	reg := prometheus.NewRegistry()
	closed := make(chan error, 1)
	logs := &natstest.LogBuffer{}
	c, err := Open(NATSConfig{URL: srv.ClientURL()}, ConnOptions{Name: "pulsehub-test", Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Registry: reg, OnClosed: func(err error) { closed <- err }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.NC.Close)
	natstest.WaitFor(t, 5*time.Second, "connected", c.NC.IsConnected)
	if got := gauge(t, reg, "pulsehub_nats_connected"); got != 1 {
		t.Fatalf("connected gauge = %v", got)
	}
	// The server kicks the client off for good: an over-long subject
	// (nats-server's 4 KB control line) makes nats.go close the
	// connection, the failure issue 13 found.
	_ = c.NC.Publish("x."+strings.Repeat("a", 5000), nil)
	select {
	case err := <-closed:
		if !strings.Contains(err.Error(), "pulsehub-test") {
			t.Fatalf("closed error = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnClosed not called after the server closed the connection")
	}
	if got := gauge(t, reg, "pulsehub_nats_connected"); got != 0 {
		t.Fatalf("connected gauge after close = %v", got)
	}
	if !strings.Contains(logs.String(), "closed for good") {
		t.Fatalf("close not logged: %s", logs.String())
	}

	// A good connection still opens, and its owner's Close is not a
	// failure.
	c2, err := Open(NATSConfig{URL: srv.ClientURL()}, ConnOptions{Name: "pulsehub-test2", OnClosed: func(err error) { closed <- err }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.JS.AccountInfo(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	natstest.WaitFor(t, 5*time.Second, "closed", c2.NC.IsClosed)
	select {
	case err := <-closed:
		t.Fatalf("OnClosed called for the owner's Close: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestOpenCountsReconnects(t *testing.T) {
	opts := natstest.Options(t.TempDir())
	opts.Port = natstest.FreePort(t)
	again := *opts
	srv := natstest.Start(t, opts)
	t.Cleanup(func() { natstest.Shutdown(srv) })
	reg := prometheus.NewRegistry()
	c, err := Open(NATSConfig{URL: srv.ClientURL()}, ConnOptions{Name: "pulsehub-test", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	natstest.WaitFor(t, 5*time.Second, "connected", c.NC.IsConnected)
	natstest.Shutdown(srv)
	natstest.WaitFor(t, 5*time.Second, "disconnect counted", func() bool { return counter(t, reg, "pulsehub_nats_disconnects_total") == 1 })
	srv2 := natstest.Start(t, &again)
	t.Cleanup(func() { natstest.Shutdown(srv2) })
	natstest.WaitFor(t, 10*time.Second, "reconnect counted", func() bool { return counter(t, reg, "pulsehub_nats_reconnects_total") == 1 })
	if got := gauge(t, reg, "pulsehub_nats_connected"); got != 1 {
		t.Fatalf("connected gauge = %v", got)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return metricValue(t, reg, name, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() })
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return metricValue(t, reg, name, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() })
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string, v func(*dto.Metric) float64) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return v(mf.GetMetric()[0])
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestOpenAuthenticatesWithItsNkeySeedOverTCPAndInProcess(t *testing.T) {
	users := natstest.NewUsers(t)
	o := natstest.Options(t.TempDir())
	users.Require(o)
	srv := natstest.Start(t, o)
	t.Cleanup(func() { natstest.Shutdown(srv) })
	seed := config.NewSecret(users.Seed(natsauth.Ingester))

	for _, inProcess := range []bool{false, true} {
		co := ConnOptions{Name: "pulsehub-ingester", InboxPrefix: natsauth.InboxPrefix(natsauth.Ingester)}
		if inProcess {
			co.InProcess = srv
		}
		c, err := Open(NATSConfig{URL: srv.ClientURL(), NKeySeed: seed}, co)
		if err != nil {
			t.Fatalf("in process %v: %v", inProcess, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// The ingester's user reads the account (its /health) with replies
		// on its own inbox, which it alone may subscribe to.
		if err := CheckJetStream(c.NC, c.JS)(ctx); err != nil {
			t.Fatalf("in process %v: %v", inProcess, err)
		}
		cancel()
		c.Close()
	}
}

func TestNATSConfigTakesOneKindOfCredentials(t *testing.T) {
	if ps := (NATSConfig{URL: "nats://x:4222", NKeySeed: config.NewSecret("not a seed")}).Validate("nats", true); len(ps) != 1 || !strings.Contains(ps.Error(), "nkey_seed") {
		t.Fatalf("bad seed: %v", ps)
	}
	ps := NATSConfig{URL: "nats://x:4222", User: "u", Password: config.NewSecret("p"), Token: config.NewSecret("t")}.Validate("nats", true)
	if len(ps) != 1 || !strings.Contains(ps.Error(), "user and token") {
		t.Fatalf("two kinds: %v", ps)
	}
	if !(NATSConfig{CredsFile: "x"}).HasCredentials() || (NATSConfig{URL: "nats://x:4222"}).HasCredentials() {
		t.Fatal("HasCredentials")
	}
}
