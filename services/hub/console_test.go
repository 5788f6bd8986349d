package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
)

var consoleToken = regexp.MustCompile(`name="csrf" value="([A-Za-z0-9_-]+)"`)

// With the console on, `hub run` connects healthmon as the operator: its
// actions (here a purge of a route's dead letters, which only the operator
// may do) and its audit events go through on the embedded server.
func TestTheConsoleActsAsTheOperator(t *testing.T) {
	const pass = "a long enough console password"
	// An account is named in the file; its password comes from the environment.
	file := filepath.Join(t.TempDir(), "hub.yaml")
	yaml := "healthmon:\n  console:\n    enabled: true\n    operators:\n      alice: {password: {env: CONSOLE_ALICE_PASSWORD}}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHubEnv(t, []string{"CONSOLE_ALICE_PASSWORD=" + pass}, "--config", file, "--only", "healthmon")
	h.waitServing(t, "healthmon", "/console/login")
	base := "http://" + h.addr("healthmon")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func(resp *http.Response, err error) (int, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	token := func(body string) string {
		t.Helper()
		m := consoleToken.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token in:\n%s", body)
		}
		return m[1]
	}
	_, body := page(c.Get(base + "/console/login"))
	if status, _ := page(c.PostForm(base+"/console/login", url.Values{"csrf": {token(body)}, "user": {"alice"}, "password": {pass}})); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	_, body = page(c.Get(base + "/console/dlq"))
	status, body := page(c.PostForm(base+"/console/dlq/route/some-route/purge", url.Values{"csrf": {token(body)}, "confirm": {"yes"}}))
	if status != http.StatusSeeOther {
		t.Fatalf("purge as the console: %d\n%s", status, body)
	}
	natstest.WaitFor(t, 30*time.Second, "the purge's audit line", func() bool {
		return strings.Contains(h.out.String(), `"action":"dlq-purge-route"`)
	})
	if out := h.out.String(); strings.Contains(out, "audit event not published") || strings.Contains(out, pass) {
		t.Fatalf("audit events refused, or the password logged:\n%s", out)
	}
}
