package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
)

// TestGraphCommands enqueues a graph from a file, draws it, lists its
// nodes and cancels a second one, against a running dispatcher.
func TestGraphCommands(t *testing.T) {
	h := natstest.RunHub(t)
	held := make(chan struct{})
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-held:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"total": 3}`)
	}))
	t.Cleanup(svc.Close)
	t.Cleanup(func() { close(held) })
	cfg := dispatch.DefaultConfig()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.ShutdownGrace = 100 * time.Millisecond
	cfg.Services = map[string]channel.Config{"ocr": {URL: svc.URL, Capacity: 2, Timeout: 5 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := dispatch.New(ctx, service.Deps{Conn: h.Conn, JS: h.JS, Logger: slog.New(slog.DiscardHandler), Streams: stream.DefaultConfig()}, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cyclic := write("cyclic.json", `{"graph": {"nodes": {"a": {"service": "ocr", "task": "t"}, "b": {"service": "ocr", "task": "t"}}, "edges": [["a", "b"], ["b", "a"]]}}`)
	if code, _, errs := runCLI(t, h.URL, "jobs", "enqueue", "--graph", cyclic); code != 2 || !strings.Contains(errs, "cycle a -> b -> a") {
		t.Fatalf("cyclic graph: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, h.URL, "jobs", "enqueue", "--graph", filepath.Join(dir, "missing.json")); code != 2 || !strings.Contains(errs, "no such file") {
		t.Fatalf("missing file: %d %q", code, errs)
	}
	good := write("good.json", `{"graph": {"name": "receipt", "nodes": {"ocr": {"service": "ocr", "task": "extract", "payload": {"page": 1}},
	  "check": {"service": "ocr", "task": "check", "payload_from": "{total: .parents.ocr.response.total}"}}, "edges": [["ocr", "check"]]}}`)
	code, out, errs := runCLI(t, h.URL, "jobs", "enqueue", "--graph", good)
	if code != 0 || !strings.Contains(out, "enqueued graph") {
		t.Fatalf("enqueue --graph: %d %q %q", code, out, errs)
	}
	id := regexp.MustCompile(`graph (\S+) of 2 nodes on jobs\.graph\.receipt`).FindStringSubmatch(out)[1]
	natstest.WaitFor(t, 20*time.Second, "the graph done", func() bool {
		_, out, _ := runCLI(t, h.URL, "jobs", "show", id)
		return strings.Contains(out, "receipt: done, 2 nodes (done 2)")
	})
	_, out, _ = runCLI(t, h.URL, "jobs", "show", id)
	if !regexp.MustCompile(`level 1\n\s+check\s+done\s+ocr/check\s+attempts 1\s+← ocr`).MatchString(out) {
		t.Fatalf("drawing:\n%s", out)
	}
	if code, out, _ := runCLI(t, h.URL, "jobs", "show", id+".check"); code != 0 || !strings.Contains(out, `"node": "check"`) || !strings.Contains(out, "level 0") {
		t.Fatalf("show of a node: %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, h.URL, "jobs", "ls", "--graph", id); code != 0 || strings.Count(out, id+".") != 2 {
		t.Fatalf("ls --graph: %d\n%s", code, out)
	}
	slow := write("slow.json", `{"graph": {"nodes": {"a": {"service": "ocr", "task": "slow"}, "b": {"service": "ocr", "task": "t"}}, "edges": [["a", "b"]]}}`)
	_, out, _ = runCLI(t, h.URL, "jobs", "enqueue", "--graph", slow)
	id2 := regexp.MustCompile(`graph (\S+) of`).FindStringSubmatch(out)[1]
	natstest.WaitFor(t, 20*time.Second, "the slow node started", func() bool {
		_, out, _ := runCLI(t, h.URL, "jobs", "ls", "--graph", id2, "--state", "started")
		return strings.Contains(out, id2+".a")
	})
	if code, out, errs := runCLI(t, h.URL, "jobs", "cancel", id2); code != 0 || !strings.Contains(out, "cancelled graph "+id2+": 2 unfinished nodes") {
		t.Fatalf("cancel: %d %q %q", code, out, errs)
	}
	if _, out, _ := runCLI(t, h.URL, "jobs", "show", id2); !strings.Contains(out, ": cancelled, 2 nodes (cancelled 2)") {
		t.Fatalf("after cancel:\n%s", out)
	}
	if code, out, errs := runCLI(t, h.URL, "jobs", "requeue", id); code != 0 || !strings.Contains(out, "0 dead nodes requeued") {
		t.Fatalf("requeue of a done graph: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, h.URL, "jobs", "requeue", "nope"); code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("requeue missing: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, h.URL, "jobs", "show", "nope"); code != 1 || !strings.Contains(errs, "no job or job graph") {
		t.Fatalf("show missing: %d %q", code, errs)
	}
}
