package service

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
)

func TestDrainFailsHealthAndClosesEachConnectionWhileServing(t *testing.T) {
	logs := &natstest.LogBuffer{}
	s := NewServer(HTTPConfig{Listen: "127.0.0.1:0", DrainPeriod: time.Minute}, slog.New(slog.NewJSONHandler(logs, nil)), nil)
	s.AddCheck("nats", func(context.Context) error { return nil })
	s.Handle("POST /work", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	base, stop := startServer(t, s)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	work := func() *http.Response {
		resp, err := c.Post(base+"/work", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := work(); resp.StatusCode != http.StatusAccepted || resp.Close {
		t.Fatalf("before the stop: %d, close %v", resp.StatusCode, resp.Close)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	natstest.WaitFor(t, 5*time.Second, "/health to fail while draining", func() bool {
		resp, err := c.Get(base + "/health")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), "draining")
	})
	// Still served, on a keep-alive connection the answer then closes.
	if resp := work(); resp.StatusCode != http.StatusAccepted || !resp.Close {
		t.Fatalf("while draining: %d, close %v", resp.StatusCode, resp.Close)
	}
	// Nobody sends any more: the drain ends long before its minute.
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the drain did not end once no request came")
	}
	if !strings.Contains(logs.String(), `"msg":"http draining`) {
		t.Fatalf("the drain is not logged:\n%s", logs.String())
	}
}

func TestShutdownLogsTheRequestsItCutsByCorrelationID(t *testing.T) {
	logs := &natstest.LogBuffer{}
	s := NewServer(HTTPConfig{Listen: "127.0.0.1:0", ShutdownTimeout: 200 * time.Millisecond}, slog.New(slog.NewJSONHandler(logs, nil)), nil)
	entered := make(chan struct{}, 2)
	hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("X-Id"); id != "" {
			SetCorrelationID(r.Context(), id)
		}
		entered <- struct{}{}
		<-r.Context().Done() // a publish that never returns, until the connection is cut
	})
	s.Handle("POST /github", hang)
	s.Handle("POST /odoo/{name}/{token}", hang)
	base, stop := startServer(t, s)
	failed := make(chan error, 2)
	for _, p := range []struct{ path, id string }{{"/github", "aaaaaaaa-0000-4000-8000-000000000042"}, {"/odoo/partners/the-secret-token", ""}} {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, base+p.path, strings.NewReader("{}"))
			req.Header.Set("X-Id", p.id)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			failed <- err
		}()
	}
	<-entered
	<-entered
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "2 requests still in flight after the 200ms shutdown timeout were cut") {
		t.Fatalf("stop: %v", err)
	}
	for range 2 {
		if err := <-failed; err == nil {
			t.Fatal("a cut request got an answer")
		}
	}
	log := logs.String()
	for _, want := range []string{
		`"msg":"request cut: still in flight at the end of the shutdown timeout","correlation_id":"aaaaaaaa-0000-4000-8000-000000000042","method":"POST","route":"POST /github"`,
		`"correlation_id":"","method":"POST","route":"POST /odoo/{name}/{token}"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, "the-secret-token") {
		t.Errorf("the path of an Odoo webhook (its token) reached the log:\n%s", log)
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	debug.SetMemoryLimit(math.MaxInt64)
	if limit, from := (ProcessConfig{}).ApplyMemoryLimit(env(""), 0); limit != 0 || from != "none" || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("none configured: %d %s, runtime %d", limit, from, debug.SetMemoryLimit(-1))
	}
	if limit, from := (ProcessConfig{MemoryLimitBytes: 300 << 20}).ApplyMemoryLimit(env(""), 0); limit != 300<<20 ||
		from != "process.memory_limit_bytes" || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("configured: %d %s, runtime %d", limit, from, debug.SetMemoryLimit(-1))
	}
	debug.SetMemoryLimit(500 << 20) // as the runtime does from GOMEMLIMIT=500MiB at start
	if limit, from := (ProcessConfig{MemoryLimitBytes: 300 << 20}).ApplyMemoryLimit(env("500MiB"), 400<<20); limit != 500<<20 || from != "GOMEMLIMIT" {
		t.Fatalf("GOMEMLIMIT set: %d %s", limit, from)
	}
	if limit, from := (ProcessConfig{}).ApplyMemoryLimit(env(""), 400<<20); limit != 400<<20 || from != "default" || debug.SetMemoryLimit(math.MaxInt64) != 400<<20 {
		t.Fatalf("the process's default: %d %s", limit, from)
	}
	if limit, from := (ProcessConfig{MemoryLimitBytes: 300 << 20}).ApplyMemoryLimit(env(""), 400<<20); limit != 300<<20 || from != "process.memory_limit_bytes" ||
		debug.SetMemoryLimit(math.MaxInt64) != 300<<20 {
		t.Fatalf("memory_limit_bytes over the process's default: %d %s", limit, from)
	}
	if ps := (ProcessConfig{MemoryLimitBytes: -1}).Validate("process"); len(ps) != 1 {
		t.Fatalf("a negative limit: %v", ps)
	}
	if ps := (HTTPConfig{Listen: "127.0.0.1:1", DrainPeriod: -time.Second}).Validate("x.http"); len(ps) != 1 {
		t.Fatalf("a negative drain period: %v", ps)
	}
}

func TestApplyGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOGC" {
				return v
			}
			return ""
		}
	}
	if p, from := (ProcessConfig{}).ApplyGCPercent(env(""), 0); p != 100 || from != "default" || debug.SetGCPercent(100) != 100 {
		t.Fatalf("default: %d %s", p, from)
	}
	if p, from := (ProcessConfig{GCPercent: 400}).ApplyGCPercent(env(""), 0); p != 400 || from != "process.gc_percent" || debug.SetGCPercent(100) != 400 {
		t.Fatalf("gc_percent: %d %s", p, from)
	}
	debug.SetGCPercent(250) // what the runtime applied from GOGC=250
	if p, from := (ProcessConfig{GCPercent: 400}).ApplyGCPercent(env("250"), 300); p != 250 || from != "GOGC" || debug.SetGCPercent(100) != 250 {
		t.Fatalf("GOGC wins: %d %s", p, from)
	}
	if p, from := (ProcessConfig{}).ApplyGCPercent(env(""), 300); p != 300 || from != "default" || debug.SetGCPercent(100) != 300 {
		t.Fatalf("the process's default: %d %s", p, from)
	}
	if p, from := (ProcessConfig{GCPercent: 200}).ApplyGCPercent(env(""), 300); p != 200 || from != "process.gc_percent" || debug.SetGCPercent(100) != 200 {
		t.Fatalf("gc_percent over the process's default: %d %s", p, from)
	}
	if ps := (ProcessConfig{GCPercent: -1}).Validate("process"); len(ps) != 1 {
		t.Fatalf("negative gc_percent: %v", ps)
	}
}
