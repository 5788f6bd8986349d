package main

// The embedded server of `hub run` requires credentials unless
// embedded.auth is none: the hub generates them into its data directory on
// first start and keeps them, and the operator commands and the NATS CLI
// find them there.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/nats-io/nats.go"
)

// seeds reads every user's seed file, checking it is 0600 in a 0700
// directory.
func seeds(t *testing.T, h *hubProcess) map[string]string {
	t.Helper()
	dir := filepath.Dir(h.seedFile(natsauth.Operator))
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("credentials directory %s: %v %v, want mode 0700", dir, fi.Mode(), err)
	}
	out := map[string]string{}
	for _, u := range natsauth.Users() {
		fi, err := os.Stat(h.seedFile(u))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", h.seedFile(u), fi.Mode().Perm())
		}
		b, err := os.ReadFile(h.seedFile(u))
		if err != nil || !strings.HasPrefix(string(b), "SU") {
			t.Fatalf("%s: %q %v, want an nkey user seed", u, b, err)
		}
		out[u] = string(b)
	}
	return out
}

// hubCmd runs a hub command where h runs (its working directory and
// environment, so ./data and the embedded server's port are h's).
func hubCmd(t *testing.T, h *hubProcess, dir string, args ...string) (string, error) {
	t.Helper()
	bin, err := buildHub()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, h.cmd.Env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestHubRunGeneratesCredentialsOnceAndRequiresThem(t *testing.T) {
	h := startHub(t)
	h.waitHealthy(t)
	first := seeds(t, h)

	// No credentials: refused. The operator's: in.
	if nc, err := nats.Connect(h.natsURL, nats.Timeout(5*time.Second)); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("unauthenticated connect: %v, want an authorization violation", err)
	}
	_, js := h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "odoo.cmd.res_partner.upsert", []byte(`{}`)); err != nil {
		t.Fatalf("the operator publishes odoo.cmd: %v", err)
	}
	// A service's user has only its own permissions, here as on a cluster.
	ingOpt, err := nats.NkeyOptionFromSeed(h.seedFile(natsauth.Ingester))
	if err != nil {
		t.Fatal(err)
	}
	_, ingJS := natstest.Connect(t, h.natsURL, ingOpt, nats.CustomInboxPrefix(natsauth.InboxPrefix(natsauth.Ingester)))
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if err := ingJS.DeleteStream(short, events.StreamGitHub); err == nil {
		t.Fatal("the ingester's user deleted a stream")
	}
	if _, err := js.Stream(ctx, events.StreamGitHub); err != nil {
		t.Fatalf("GITHUB after the ingester's attempt: %v", err)
	}

	// hub status where hub run runs, with no flag: the operator's seed from ./data.
	if out, err := hubCmd(t, h, h.cmd.Dir, "status"); err != nil || !strings.Contains(out, "GITHUB") {
		t.Fatalf("hub status next to the hub: %v\n%s", err, out)
	}
	// Elsewhere it has no credentials and says where it looked...
	elsewhere := t.TempDir()
	out, err := hubCmd(t, h, elsewhere, "status")
	if err == nil || !strings.Contains(out, "No operator credentials at") {
		t.Fatalf("hub status without credentials: %v\n%s", err, out)
	}
	// ...and --data-dir points it at them.
	if out, err := hubCmd(t, h, elsewhere, "status", "--data-dir", h.dataDir); err != nil || !strings.Contains(out, "GITHUB") {
		t.Fatalf("hub status --data-dir: %v\n%s", err, out)
	}
	runNATSContext(t, h)

	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.out.String(), "generated NATS credentials") || !strings.Contains(h.out.String(), "nats --context") {
		t.Errorf("the first start does not say it generated credentials and how to use them:\n%s", h.out)
	}

	// The second start on the same data directory keeps them.
	h2 := startHub(t, "--data-dir", h.dataDir)
	h2.waitHealthy(t)
	if again := seeds(t, h2); again[natsauth.Operator] != first[natsauth.Operator] || again[natsauth.Ingester] != first[natsauth.Ingester] {
		t.Fatal("the second start generated new credentials")
	}
	if strings.Contains(h2.out.String(), "generated NATS credentials") {
		t.Error("the second start says it generated credentials")
	}
	_, js2 := h2.connect(t)
	if _, err := js2.Stream(ctx, events.StreamGitHub); err != nil {
		t.Fatalf("operator after a restart: %v", err)
	}
	if err := h2.stop(t); err != nil {
		t.Fatal(err)
	}
}

// runNATSContext runs the stock NATS CLI with the context the hub wrote,
// and without it (refused), when the CLI is installed.
func runNATSContext(t *testing.T, h *hubProcess) {
	t.Helper()
	bin := natsCLI()
	if bin == "" {
		t.Log("the nats CLI is not installed: its context is not tried")
		return
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, bin, args...)
		c.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+t.TempDir())
		out, err := c.CombinedOutput()
		return string(out), err
	}
	if out, err := run("--server", h.natsURL, "stream", "ls"); err == nil {
		t.Fatalf("nats stream ls with no credentials worked:\n%s", out)
	}
	ctxFile := filepath.Join(h.dataDir, "nats-context.json")
	if out, err := run("--context", ctxFile, "stream", "ls"); err != nil || !strings.Contains(out, "GITHUB") {
		t.Fatalf("nats --context %s stream ls: %v\n%s", ctxFile, err, out)
	}
}

// natsCLI is the nats CLI's path, "" when it is not installed.
func natsCLI() string {
	if bin, err := exec.LookPath("nats"); err == nil {
		return bin
	}
	if home, err := os.UserHomeDir(); err == nil {
		if _, err := os.Stat(filepath.Join(home, "go", "bin", "nats")); err == nil {
			return filepath.Join(home, "go", "bin", "nats")
		}
	}
	return ""
}

func TestEmbeddedAuthNoneLetsAnyoneIn(t *testing.T) {
	h := startHubEnv(t, []string{"PULSEHUB_EMBEDDED_AUTH=none"})
	h.waitHealthy(t)
	_, js := natstest.Connect(t, h.natsURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "github.test.none", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(h.seedFile(natsauth.Operator))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("auth none generated credentials: %v", err)
	}
	if !strings.Contains(h.out.String(), "accepts every client") {
		t.Errorf("auth none is not warned about:\n%s", h.out)
	}
	if out, err := hubCmd(t, h, h.cmd.Dir, "status"); err != nil || !strings.Contains(out, "GITHUB") {
		t.Fatalf("hub status: %v\n%s", err, out)
	}
	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
}
