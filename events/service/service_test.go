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
	"github.com/insightpulse/pulsehub/events/natstest"
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
	if _, _, err := Connect(context.Background(), NATSConfig{}, "x", slog.New(slog.DiscardHandler)); err == nil {
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
