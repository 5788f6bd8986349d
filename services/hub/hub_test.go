package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := buildHub(); err == nil {
		_ = os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// buildHub compiles the hub binary once per test run.
var buildHub = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hubbin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hub")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// hubProcess is a running `hub run` on free loopback ports.
type hubProcess struct {
	cmd      *exec.Cmd
	out      *syncBuffer
	natsURL  string
	dataDir  string // its --data-dir (the last one given)
	ingester string
	ports    map[string]int // nats, monitor, ingester, odoowriter, dispatcher, healthmon
	done     chan struct{}  // closed when the process has exited; then err and code are set
	err      error          // what cmd.Wait returned
	code     int            // the exit status
}

func startHub(t *testing.T, args ...string) *hubProcess {
	t.Helper()
	return startHubEnv(t, nil, args...)
}

// startHubEnv is startHub with more environment variables (they win over
// the port settings).
func startHubEnv(t *testing.T, env []string, args ...string) *hubProcess {
	t.Helper()
	bin, err := buildHub()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ports := map[string]int{}
	for _, k := range []string{"nats", "monitor", "ingester", "odoowriter", "dispatcher", "healthmon"} {
		ports[k] = natstest.FreePort(t)
	}
	h := &hubProcess{out: &syncBuffer{}, done: make(chan struct{}), ports: ports,
		natsURL: fmt.Sprintf("nats://127.0.0.1:%d", ports["nats"]), ingester: fmt.Sprintf("127.0.0.1:%d", ports["ingester"])}
	h.dataDir = filepath.Join(dir, "data")
	for i, a := range args {
		if a == "--data-dir" && i+1 < len(args) {
			h.dataDir = args[i+1]
		}
	}
	h.cmd = exec.Command(bin, append([]string{"run", "--data-dir", filepath.Join(dir, "data")}, args...)...)
	h.cmd.Dir = dir // no hub.yaml there: built-in defaults
	h.cmd.Env = append(os.Environ(),
		fmt.Sprintf("PULSEHUB_EMBEDDED_LISTEN=127.0.0.1:%d", ports["nats"]),
		fmt.Sprintf("PULSEHUB_EMBEDDED_MONITOR=127.0.0.1:%d", ports["monitor"]),
		fmt.Sprintf("PULSEHUB_INGESTER_HTTP_LISTEN=127.0.0.1:%d", ports["ingester"]),
		fmt.Sprintf("PULSEHUB_ODOOWRITER_HTTP_LISTEN=127.0.0.1:%d", ports["odoowriter"]),
		fmt.Sprintf("PULSEHUB_DISPATCHER_HTTP_LISTEN=127.0.0.1:%d", ports["dispatcher"]),
		fmt.Sprintf("PULSEHUB_HEALTHMON_HTTP_LISTEN=127.0.0.1:%d", ports["healthmon"]),
	)
	h.cmd.Env = append(h.cmd.Env, env...)
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.err = h.cmd.Wait()
		h.code = h.cmd.ProcessState.ExitCode()
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			_ = h.cmd.Process.Kill()
			<-h.done
		}
		// The hub's own connections must never be refused a permission
		// (natsauth grants what the services use).
		var pl natstest.PermissionLog
		_, _ = pl.Write([]byte(h.out.String()))
		for _, line := range pl.Lines() {
			t.Errorf("a service hit a NATS permission it lacks: %s", line)
		}
		if t.Failed() {
			t.Logf("hub output:\n%s", h.out)
		}
	})
	return h
}

// seedFile is the file of user's nkey seed that `hub run` generated in its
// data directory.
func (h *hubProcess) seedFile(user string) string {
	return filepath.Join(h.dataDir, "credentials", user+".nk")
}

// connect connects to the hub's embedded server as its operator, with the
// seed the hub generated (the hub must have started).
func (h *hubProcess) connect(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(h.seedFile(natsauth.Operator))
	if err != nil {
		t.Fatal(err)
	}
	return natstest.Connect(t, h.natsURL, opt)
}

// as is the environment that makes another `hub run --nats-url` on this
// hub's server authenticate as user.
func (h *hubProcess) as(user string) []string {
	return []string{"PULSEHUB_NATS_NKEY_SEED_FILE=" + h.seedFile(user)}
}

func (h *hubProcess) waitHealthy(t *testing.T) {
	t.Helper()
	natstest.WaitFor(t, 30*time.Second, "the hub's /health to answer 200", func() bool {
		resp, err := http.Get("http://" + h.ingester + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// exit waits up to d for the process to exit by itself and returns its
// exit status.
func (h *hubProcess) exit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-h.done:
		return h.code
	case <-time.After(d):
		t.Fatalf("hub still running %s later", d)
		return -1
	}
}

func (h *hubProcess) stop(t *testing.T) error {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.done:
		return h.err
	case <-time.After(60 * time.Second):
		t.Fatal("hub did not exit within 60s of SIGTERM")
		return nil
	}
}

func TestHubRunWithNoConfigStoresEventsAndExitsCleanly(t *testing.T) {
	h := startHub(t)
	h.waitHealthy(t)

	_, js := h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := js.Publish(ctx, "github.test.none", []byte(`{"zen":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stream != events.StreamGitHub {
		t.Fatalf("stored in %s, want GITHUB", ack.Stream)
	}
	// Without a webhook secret the quick start must not take deliveries.
	resp, err := http.Post("http://"+h.ingester+"/github", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		t.Fatalf("POST /github without a configured secret answered %d", resp.StatusCode)
	}
	s, err := js.Stream(ctx, events.StreamGitHub)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, ack.Sequence)
	if err != nil || string(m.Data) != `{"zen":"hi"}` {
		t.Fatalf("stored message: %v %v", m, err)
	}
	for _, name := range []string{"GITHUB", "ODOO", "ODOO_CMD", "JOBS", "RESULTS", "DLQ", "HEALTH"} {
		if _, err := js.Stream(ctx, name); err != nil {
			t.Errorf("stream %s: %v", name, err)
		}
	}
	if err := h.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	out := h.out.String()
	for _, want := range []string{`"msg":"pulse hub running"`, `"msg":"embedded nats-server stopped"`, `GitHub webhooks are off`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

func TestHubRunKeepsDataAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, "--data-dir", dir)
	h.waitHealthy(t)
	_, js := h.connect(t)
	ctx := context.Background()
	if _, err := js.Publish(ctx, "github.push.none", []byte(`{}`), jetstream.WithMsgID("d1")); err != nil {
		t.Fatal(err)
	}
	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
	h2 := startHub(t, "--data-dir", dir)
	h2.waitHealthy(t)
	_, js2 := h2.connect(t)
	ack, err := js2.Publish(ctx, "github.push.none", []byte(`{}`), jetstream.WithMsgID("d1"))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate || ack.Sequence != 1 {
		t.Fatalf("after restart: ack %+v, want the stored message recognised as a duplicate", ack)
	}
	if err := h2.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestConfigCheckReportsEveryProblemWithLines(t *testing.T) {
	bin, err := buildHub()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "hub.yaml")
	yml := "streams:\n  replicas: 2\nroutes:\n  - name: bad name\n    from: {stream: GITHUB}\n    odoo: {model: res.partner, op: nope}\nnope: 1\n"
	if err := os.WriteFile(bad, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "config", "check", bad)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, stderr:\n%s", err, stderr.String())
	}
	// Unknown keys are reported first; the file must be fixed before the
	// semantic checks run.
	if !strings.Contains(stderr.String(), "line 7: field nope not found") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
	if err := os.WriteFile(bad, []byte(strings.Replace(yml, "nope: 1\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	cmd = exec.Command(bin, "config", "check", bad)
	cmd.Stderr = &stderr
	_ = cmd.Run()
	for _, want := range []string{"line 2: streams.replicas", "line 4: routes[0].name", "line 6: routes[0].odoo.op"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("log: {level: debug}\ningester: {github: {enabled: false}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "config", "check", good).CombinedOutput(); err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("good config: %v %s", err, out)
	}
}

func TestHubRunRefusesABadConfig(t *testing.T) {
	bin, err := buildHub()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--nats-url", "not-a-url")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "nats.url") {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
}

type syncBuffer = natstest.LogBuffer
