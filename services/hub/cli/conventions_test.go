package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// main runs the CLI in-process with exactly args.
func mainArgs(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestEveryCommandsHelpGoesToStdoutWithStatus0(t *testing.T) {
	cases := [][]string{
		{"run"}, {"config"}, {"config", "check"}, {"status"}, {"replay"}, {"dlq"}, {"dlq", "ls"}, {"dlq", "requeue"},
		{"jobs"}, {"jobs", "ls"}, {"jobs", "enqueue"}, {"healthcheck"}, {"version"},
	}
	for _, c := range cases {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, c...), h)
			code, out, errs := mainArgs(args...)
			if code != 0 || errs != "" || !strings.HasPrefix(out, "Usage: hub "+c[0]) {
				t.Errorf("hub %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errs)
			}
		}
	}
	for _, h := range []string{"-h", "--help", "help"} {
		if code, out, errs := mainArgs(h); code != 0 || errs != "" || !strings.Contains(out, "hub run") {
			t.Errorf("hub %s: exit %d, stdout %q, stderr %q", h, code, out, errs)
		}
	}
	// Flags with values say what they take.
	if _, out, _ := mainArgs("run", "--help"); !strings.Contains(out, "-only") || !strings.Contains(out, "-nats-url") {
		t.Errorf("hub run --help lacks its flags:\n%s", out)
	}
}

func TestAWrongFlagOrArgumentExits2WithTheUsageOnStderr(t *testing.T) {
	cases := [][]string{
		{"run", "--bogus"}, {"run", "extra"}, {"run", "--only", "mailer"}, {"run", "--only", "ingester,,healthmon"},
		{"status", "--bogus"}, {"status", "extra"},
		{"replay", "--since", "soon", "r"}, {"replay", "r1", "r2", "--since", "1h"}, {"replay", "r", "--from-time", "yesterday"},
		{"dlq"}, {"dlq", "ls", "--bogus"}, {"dlq", "frobnicate"}, {"dlq", "purge"},
		{"jobs"}, {"jobs", "show"}, {"jobs", "ls", "--limit", "many"},
		{"config"}, {"config", "check", "a", "b"}, {"config", "nope"},
		{"healthcheck"}, {"healthcheck", "--bogus", "http://x"}, {"version", "extra"},
	}
	for _, c := range cases {
		code, out, errs := mainArgs(c...)
		if code != 2 || out != "" || !strings.Contains(errs, "Usage: hub "+c[0]) {
			t.Errorf("hub %s: exit %d, stdout %q, stderr %q", strings.Join(c, " "), code, out, errs)
		}
	}
	// A good command still works after them.
	if code, out, _ := mainArgs("version"); code != 0 || !strings.HasPrefix(out, "hub ") {
		t.Fatalf("hub version: %d %q", code, out)
	}
}

// An operator command reads NATS only: a hub.yaml whose Odoo password
// lives in the services' environment must not stop `hub status`.
func TestOperatorCommandsValidateOnlyWhatTheyUse(t *testing.T) {
	url := startServer(t)
	cfg := filepath.Join(t.TempDir(), "hub.yaml")
	yml := "odoo:\n  default: {url: \"http://odoo:8069\", database: prod, login: hub}\n" +
		"ingester:\n  github: {enabled: true}\n" // no webhook secret either
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"dlq", "ls"}, {"jobs", "ls"}} {
		code, out, errs := mainArgs(append(args, "--config", cfg, "--nats-url", url)...)
		if code != 0 {
			t.Errorf("hub %s with secrets elsewhere: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	// What they do use is still checked.
	if code, _, errs := mainArgs("status", "--config", cfg, "--nats-url", "not-a-url"); code != 1 || !strings.Contains(errs, "nats.url") {
		t.Errorf("bad nats url: exit %d %q", code, errs)
	}
	// hub run checks what the services it runs need: the writer needs the
	// Odoo password; it refuses to start without it.
	code, _, errs := mainArgs("run", "--config", cfg, "--only", "odoowriter", "--nats-url", url)
	if code != 2 || !strings.Contains(errs, "odoo.default.password") {
		t.Errorf("hub run --only odoowriter without the password: exit %d %q", code, errs)
	}
}
