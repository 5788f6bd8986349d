package main

// Tests of the composition root as an operator meets it: the real binary,
// `hub run --only`, a loop or a connection that dies, a port that is
// taken, a SIGTERM while starting.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
)

// answers reports whether GET url answers 200.
func answers(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// refused reports whether nothing listens on addr.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

func (h *hubProcess) addr(svc string) string { return fmt.Sprintf("127.0.0.1:%d", h.ports[svc]) }

func (h *hubProcess) waitServing(t *testing.T, svc, path string) {
	t.Helper()
	natstest.WaitFor(t, 30*time.Second, svc+" to answer "+path, func() bool { return answers("http://" + h.addr(svc) + path) })
}

func TestOnlyRunsTheNamedServicesOnEmbeddedOrExternalNATS(t *testing.T) {
	// Two services on the embedded server...
	a := startHub(t, "--only", "ingester,healthmon")
	a.waitServing(t, "ingester", "/health")
	a.waitServing(t, "healthmon", "/status.json")
	for _, svc := range []string{"odoowriter", "dispatcher"} {
		if !refused(a.addr(svc)) {
			t.Errorf("--only ingester,healthmon: %s listens", svc)
		}
	}
	// ...and each other one alone, in its own process, on that server as
	// an external NATS (a deployment's shape: one container per service).
	var others []*hubProcess
	for _, svc := range []string{"odoowriter", "dispatcher"} {
		h := startHubEnv(t, a.as(svc), "--only", svc, "--nats-url", a.natsURL)
		h.waitServing(t, svc, "/health")
		for _, other := range []string{"ingester", "odoowriter", "dispatcher", "healthmon"} {
			if other != svc && !refused(h.addr(other)) {
				t.Errorf("--only %s: %s listens", svc, other)
			}
		}
		if !refused(h.addr("nats")) {
			t.Errorf("--only %s --nats-url: an embedded server was started", svc)
		}
		if !strings.Contains(h.out.String(), fmt.Sprintf(`"services":["%s"]`, svc)) {
			t.Errorf("--only %s: the start line does not name the service:\n%s", svc, h.out)
		}
		others = append(others, h)
	}
	for _, h := range append(others, a) {
		if err := h.stop(t); err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, h.out)
		}
	}
}

func TestOnlyRefusesAnUnknownService(t *testing.T) {
	bin, err := buildHub()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd := execHub(t, bin, "run", "--only", "ingester,mailer")
	cmd.Stderr = &out
	err = cmd.Run()
	if code := exitCode(err); code != 2 || !strings.Contains(out.String(), "mailer") || !strings.Contains(out.String(), "Usage: hub run") {
		t.Fatalf("exit %d, stderr:\n%s", code, out.String())
	}
}

func TestADeadLoopStopsTheProcessWithItsCause(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(cfg, []byte("ingester: {github: {enabled: false}}\ndispatcher:\n  services:\n    ocr: {url: \"http://127.0.0.1:9\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, "--config", cfg)
	h.waitHealthy(t)
	h.waitServing(t, "dispatcher", "/health")
	_, js := h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// An operator deletes the consumer the dispatcher's loop reads: the loop
	// cannot go on. It used to log "restart the service" at every pull while
	// /health said ok; now the process stops, and its supervisor (systemd,
	// Docker, Kubernetes) restarts it, which creates the consumer again.
	// The hub may stop (and its embedded server with it) before the
	// delete's answer reaches this client: only the exit is checked.
	if err := js.DeleteConsumer(ctx, events.StreamJobs, "jobs-ocr"); err != nil {
		t.Logf("delete consumer: %v (the server stopped with the hub)", err)
	}
	if code := h.exit(t, 30*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1\n%s", code, h.out)
	}
	out := h.out.String()
	if n := strings.Count(out, `"msg":"hub stopped with an error"`); n != 1 {
		t.Fatalf("the failure is logged %d times, want once:\n%s", n, out)
	}
	for _, want := range []string{"dispatcher: consumer jobs-ocr", "the consumer was deleted", "shutting down after a failure", "embedded nats-server stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}

	// Restarted (as an orchestrator would), the hub recreates the consumer.
	h2 := startHub(t, "--config", cfg, "--data-dir", dataDirOf(h))
	h2.waitServing(t, "dispatcher", "/health")
	_, js2 := h2.connect(t)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if _, err := js2.Consumer(ctx2, events.StreamJobs, "jobs-ocr"); err != nil {
		t.Fatalf("consumer after restart: %v", err)
	}
	if err := h2.stop(t); err != nil {
		t.Fatal(err)
	}
}

// dataDirOf is the --data-dir a hubProcess was started with.
func dataDirOf(h *hubProcess) string {
	for i, a := range h.cmd.Args {
		if a == "--data-dir" && i+1 < len(h.cmd.Args) {
			return h.cmd.Args[i+1]
		}
	}
	return ""
}

func TestANATSConnectionClosedForGoodStopsTheProcess(t *testing.T) {
	opts := natstest.Options(t.TempDir())
	opts.Port = natstest.FreePort(t)
	again := *opts
	srv := natstest.Start(t, opts)
	t.Cleanup(func() { natstest.Shutdown(srv) })

	h := startHub(t, "--only", "dispatcher", "--nats-url", srv.ClientURL())
	h.waitServing(t, "dispatcher", "/health")
	// The server comes back demanding credentials the hub does not have:
	// nats.go gives up on the connection after two authorization errors.
	natstest.Shutdown(srv)
	again.Authorization = "a-token-the-hub-lacks"
	srv2 := natstest.Start(t, &again)
	t.Cleanup(func() { natstest.Shutdown(srv2) })

	if code := h.exit(t, 30*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1\n%s", code, h.out)
	}
	out := strings.ToLower(h.out.String())
	for _, want := range []string{"closed for good", "authorization violation", `"msg":"hub stopped with an error"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, h.out)
		}
	}
	if strings.Contains(out, "a-token-the-hub-lacks") {
		t.Error("the log shows the server's token")
	}
}

func TestStartupFailsAtOnceWhenAPortIsTaken(t *testing.T) {
	for _, which := range []string{"PULSEHUB_EMBEDDED_LISTEN", "PULSEHUB_DISPATCHER_HTTP_LISTEN"} {
		t.Run(which, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			start := time.Now()
			h := startHubEnv(t, []string{which + "=" + ln.Addr().String()})
			if code := h.exit(t, 15*time.Second); code != 1 {
				t.Fatalf("exit status %d, want 1\n%s", code, h.out)
			}
			took := time.Since(start)
			t.Logf("%s taken: exited after %s", which, took.Round(time.Millisecond))
			out := h.out.String()
			if !strings.Contains(out, ln.Addr().String()) || !strings.Contains(out, `"msg":"hub stopped with an error"`) {
				t.Fatalf("the log does not say which port:\n%s", out)
			}
		})
	}
	// A good start still works.
	h := startHub(t)
	h.waitHealthy(t)
	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestSIGTERMWhileWaitingForNATSStopsAtOnce(t *testing.T) {
	// Nothing listens at the NATS URL: the hub waits for JetStream (a
	// service may start before its server), and must still obey SIGTERM.
	dead := fmt.Sprintf("nats://127.0.0.1:%d", natstest.FreePort(t))
	h := startHub(t, "--only", "dispatcher", "--nats-url", dead)
	natstest.WaitFor(t, 15*time.Second, "the hub to wait for JetStream", func() bool {
		return strings.Contains(h.out.String(), "ensuring streams")
	})
	time.Sleep(300 * time.Millisecond) // inside the retry, not before it
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code := h.exit(t, 10*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM while starting\n%s", code, h.out)
	}
	t.Logf("exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}

func exitCode(err error) int {
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// execHub is the hub binary with args, run where no hub.yaml is, killed
// if it is still running after 30s (a command expected to refuse to
// start must not hang the suite when it starts instead).
func execHub(t *testing.T, bin string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	return cmd
}
