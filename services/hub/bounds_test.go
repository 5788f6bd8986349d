package main

// Tests of the bounds on names and subjects as an operator meets them:
// `hub config check`, and what happens to the process if a subject ever
// got past them.

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
)

func TestConfigCheckReportsEveryNameOverItsLimit(t *testing.T) {
	bin, err := buildHub()
	if err != nil {
		t.Fatal(err)
	}
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	password := filepath.Join(t.TempDir(), "odoo-password")
	if err := os.WriteFile(password, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := fmt.Sprintf(`odoo:
  default: {url: "http://127.0.0.1:9", database: d, login: hub, password: {file: %s}}
ingester:
  github: {enabled: false}
  odoo_sources:
    %s: {token: 0123456789abcdef0123}
    partners: {token: 0123456789abcdef0123, model: %s}
dispatcher:
  services:
    %s: {url: "http://127.0.0.1:9"}
    ocr:
      url: "http://127.0.0.1:9"
      tasks: {%s: {path: /x}}
routes:
  - name: %s
    from: {stream: GITHUB, subjects: ["github.%s"]}
    dispatch: {service: ocr, result_subject: odoo.cmd.res_partner.unlink}
  - name: tasks
    from: {stream: GITHUB}
    odoo: {model: %s, op: create, values: {name: .x}}
`, password, long("s", 65), long("m", 65), long("v", 60), long("t", 60), long("r", 65), long("x", 1100), long("m", 65))
	bad := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(bad, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "config", "check", bad)
	cmd.Stderr = &stderr
	if err := cmd.Run(); exitCode(err) != 1 {
		t.Fatalf("exit %d, stderr:\n%s", exitCode(err), stderr.String())
	}
	for _, want := range []string{
		"ingester.odoo_sources." + long("s", 65) + ": source name", "ingester.odoo_sources.partners.model",
		"dispatcher.services." + long("v", 60) + ": service name", "dispatcher.services.ocr.tasks." + long("t", 60) + ": task name",
		"routes[0].name", "routes[0].from.subjects[0]", "the most is 1024", "routes[0].dispatch.result_subject", "not in stream RESULTS",
		"routes[1].odoo.model",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("hub config check does not report %q:\n%s", want, stderr.String())
		}
	}
	good := strings.NewReplacer(long("s", 65), long("s", 64), long("m", 65), long("m", 64), long("v", 60), long("v", 59),
		long("t", 60), long("t", 59), long("r", 65), long("r", 64), long("x", 1100), "*", "odoo.cmd.res_partner.unlink", "results.ocr.mine").Replace(yml)
	if err := os.WriteFile(bad, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "config", "check", bad).CombinedOutput(); err != nil {
		t.Fatalf("names at their limits: %v\n%s", err, out)
	}
}

// The hub keeps every subject within 1 KiB so that nats-server's
// max_control_line (4,096 by default) is never reached. If a subject ever
// got past that — a bug, or here a server configured with a control line
// shorter than the subjects the hub makes — the server closes the
// service's connection for good, and the process must stop with that
// cause rather than answer 503 forever.
func TestAConnectionTheServerClosesForAnOverLongSubjectStopsTheProcess(t *testing.T) {
	opts := natstest.Options(t.TempDir())
	opts.MaxControlLine = 256 // longer than the connections' CONNECT lines, shorter than the subject below
	srv := natstest.Start(t, opts)
	t.Cleanup(func() { natstest.Shutdown(srv) })
	const secret = "a webhook secret"
	h := startHubEnv(t, []string{"PULSEHUB_GITHUB_WEBHOOK_SECRET=" + secret}, "--only", "ingester", "--nats-url", srv.ClientURL())
	h.waitHealthy(t)

	// Within the hub's limits (an event name of 64 bytes, an action whose
	// 64 bytes are all escaped): github.<64>.<192>, 264 bytes.
	body := []byte(`{"action":"` + strings.Repeat("é", 32) + `"}`)
	req, err := http.NewRequest(http.MethodPost, "http://"+h.ingester+"/github", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", strings.Repeat("e", 64))
	req.Header.Set("X-GitHub-Delivery", "33333333-3333-4333-8333-333333333333")
	req.Header.Set(githubhook.SignatureHeader, githubhook.SignatureValue(secret, body))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 300 {
			t.Errorf("answered %d to a delivery the server refused", resp.StatusCode)
		}
	}
	if code := h.exit(t, 30*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1\n%s", code, h.out)
	}
	out := strings.ToLower(h.out.String())
	for _, want := range []string{`"msg":"hub stopped with an error"`, "pulsehub-ingester closed", "maximum control line"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, h.out)
		}
	}
}
