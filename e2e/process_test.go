package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/hub/root"
)

// A hub process (Options.Process) is this test binary started again with
// these variables set: TestMain then runs the composition root as `hub
// run --only ...` does, with the config file the parent wrote, until
// SIGTERM (a graceful stop) or SIGKILL (a crash: nothing is drained,
// flushed or handed back, in-flight handlers vanish with the process and
// the kernel closes its sockets). The real binary is the same root behind
// a flag parser; this keeps the -race build and costs no `go build`.
const (
	envProcessConfig = "PULSEHUB_E2E_PROCESS_CONFIG"
	envProcessOnly   = "PULSEHUB_E2E_PROCESS_ONLY"
)

func TestMain(m *testing.M) {
	if file := os.Getenv(envProcessConfig); file != "" {
		os.Exit(runProcess(file, strings.Split(os.Getenv(envProcessOnly), ",")))
	}
	os.Exit(m.Run())
}

// runProcess is the hub process's main.
func runProcess(file string, only []string) int {
	log := service.NewLogger(os.Stdout, service.LogConfig{Level: "info"}, "")
	yml, err := os.ReadFile(file)
	if err != nil {
		log.Error("read config", "error", err.Error())
		return 2
	}
	c, err := loadConfig(string(yml))
	if err != nil {
		log.Error("load config", "error", err.Error())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := root.Run(ctx, root.Options{Config: c, File: file, Only: only, Logger: log}); err != nil {
		log.Error("hub stopped with an error", "error", err.Error())
		return 1
	}
	return 0
}

// process is a running hub process.
type process struct {
	cmd  *exec.Cmd
	done chan error
}

// StartProcess starts the hub process (ingester, writer, dispatcher) and
// waits until its ingester is healthy.
func (h *Hub) StartProcess() {
	h.t.Helper()
	h.SpawnProcess()
	h.waitHealthy(h.Ingester + "/health")
}

// SpawnProcess starts the hub process and returns at once.
func (h *Hub) SpawnProcess() {
	h.t.Helper()
	if h.proc != nil {
		h.t.Fatal("e2e: the hub process is running")
	}
	dir := h.t.TempDir()
	file := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(file, []byte(h.yml), 0o600); err != nil {
		h.t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "hub.log"))
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envProcessConfig+"="+file, envProcessOnly+"=ingester,odoowriter,dispatcher")
	cmd.Stdout, cmd.Stderr = out, out
	if os.Getenv("E2E_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		h.t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); out.Close() }()
	h.proc = p
}

// Crash kills the hub process with SIGKILL and waits until it is gone.
func (h *Hub) Crash() {
	h.t.Helper()
	if h.proc == nil {
		h.t.Fatal("e2e: no hub process to crash")
	}
	_ = h.proc.cmd.Process.Kill()
	<-h.proc.done
	h.proc = nil
}

// StopProcess stops the hub process gracefully (SIGTERM), if it runs, and
// fails the test if it does not exit 0 in time.
func (h *Hub) StopProcess() {
	h.t.Helper()
	p := h.proc
	if p == nil {
		return
	}
	h.proc = nil
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			h.t.Errorf("the hub process stopped with: %v", err)
		}
	case <-time.After(root.ShutdownTimeout + 5*time.Second):
		_ = p.cmd.Process.Kill()
		h.t.Errorf("the hub process did not stop within %s: %v", root.ShutdownTimeout, errors.Join(fmt.Errorf("killed"), <-p.done))
	}
}
