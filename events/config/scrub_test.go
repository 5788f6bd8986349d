package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestScrubReplacesEverySecretInEveryFormItIsEchoedIn(t *testing.T) {
	NewSecret("Bearer tok-3f9a1c77e2b84d10")
	basic := NewSecret("Basic " + base64.StdEncoding.EncodeToString([]byte("svc-user:pa ss/w<o>rd+\"q\"")))
	for _, tc := range []struct{ name, in, mustNot string }{
		{"the whole header value", "echo: Authorization: Bearer tok-3f9a1c77e2b84d10", "tok-3f9a1c77e2b84d10"},
		{"the token alone", `{"token":"tok-3f9a1c77e2b84d10"}`, "tok-3f9a1c77e2b84d10"},
		{"the token in another case of scheme", "bearer tok-3f9a1c77e2b84d10", "tok-3f9a1c77e2b84d10"},
		{"the basic value", basic.Value(), strings.TrimPrefix(basic.Value(), "Basic ")},
		{"basic decoded", "login svc-user:pa ss/w<o>rd+\"q\" failed", "pa ss/w<o>rd"},
		{"basic password alone", "password pa ss/w<o>rd+\"q\"", "pa ss/w<o>rd"},
		{"url-encoded password", "GET /x?p=" + url.QueryEscape("pa ss/w<o>rd+\"q\""), "pa+ss%2Fw"},
		{"path-encoded password", "GET /" + url.PathEscape("pa ss/w<o>rd+\"q\""), "pa%20ss"},
		{"json-escaped password", `{"p":"pa ss/w\u003co\u003erd+\"q\""}`, `rd+\"q\"`},
		{"json-escaped password, html kept", `{"p":"pa ss/w<o>rd+\"q\""}`, `rd+\"q\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Scrub(tc.in)
			if strings.Contains(got, tc.mustNot) || !strings.Contains(got, Redacted) {
				t.Errorf("Scrub(%q) = %q", tc.in, got)
			}
		})
	}
}

func TestScrubKeepsOrdinaryTextAndShortSecrets(t *testing.T) {
	NewSecret("admin")            // shorter than MinSecretBytes: not looked for
	NewSecret("k1")               //
	NewSecret("0123456789abcdef") // looked for
	for _, s := range []string{"", "administrator admin k1", "HTTP 500: upstream failed", "0123456789abcde"} {
		if got := Scrub(s); got != s {
			t.Errorf("Scrub(%q) = %q, want it unchanged", s, got)
		}
	}
	if got := Scrub("id 0123456789abcdef0"); got != "id [redacted]0" {
		t.Errorf("Scrub = %q", got)
	}
}

func TestSecretsFromYAMLAndEnvironmentAreRegistered(t *testing.T) {
	var cfg struct {
		Hook Secret `yaml:"hook"`
		Key  Secret `yaml:"key"`
	}
	t.Setenv("YAML_REF", "from-a-yaml-env-ref-88") // {env: NAME} in YAML reads the process environment
	env := map[string]string{"PULSEHUB_KEY": "from-the-environment-77"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := LoadBytes([]byte("hook: {env: YAML_REF}\n"), &cfg, Options{LookupEnv: lookup}); err != nil {
		t.Fatal(err)
	}
	got := Scrub("a from-the-environment-77 b from-a-yaml-env-ref-88")
	if got != "a [redacted] b [redacted]" {
		t.Errorf("Scrub = %q", got)
	}
}

func TestScrubWriterScrubsEachWrite(t *testing.T) {
	NewSecret("writer-secret-42")
	var b bytes.Buffer
	w := ScrubWriter(&b)
	n, err := fmt.Fprintf(w, "last_error: %s\n", "echo writer-secret-42")
	if err != nil || n != len("last_error: echo writer-secret-42\n") {
		t.Fatalf("Fprintf = %d, %v", n, err)
	}
	if b.String() != "last_error: echo [redacted]\n" {
		t.Errorf("wrote %q", b.String())
	}
}

func TestShortSecretsNamesThePaths(t *testing.T) {
	type svc struct {
		Auth Secret `yaml:"auth"`
	}
	cfg := struct {
		Odoo     map[string]svc `yaml:"odoo"`
		Webhooks []Secret       `yaml:"webhooks"`
		Long     Secret         `yaml:"long"`
		Unset    Secret         `yaml:"unset"`
	}{
		Odoo:     map[string]svc{"main": {Auth: NewSecret("admin")}},
		Webhooks: []Secret{NewSecret("long-enough-secret"), NewSecret("short")},
		Long:     NewSecret("long-enough-secret"),
	}
	got := ShortSecrets(&cfg)
	if strings.Join(got, ",") != "odoo.main.auth,webhooks" {
		t.Errorf("ShortSecrets = %q", got)
	}
}

func TestCheckCleartext(t *testing.T) {
	for _, tc := range []struct {
		url     string
		allowed bool
		problem bool
	}{
		{"http://odoo:8069", false, true},
		{"http://erp.example.com/", false, true},
		{"HTTP://10.0.0.5:8069", false, true},
		{"http://odoo:8069", true, false},
		{"https://erp.example.com", false, false},
		{"http://127.0.0.1:8069", false, false},
		{"http://127.8.9.10:8069", false, false},
		{"http://[::1]:9000", false, false},
		{"http://localhost:9000", false, false},
		{"http://LOCALHOST", false, false},
		{"http://localhost.evil.example", false, true},
		{"http://[::ffff:10.0.0.1]", false, true},
	} {
		var ps Problems
		CheckCleartext(&ps, "x.url", tc.url, "the password", tc.allowed)
		if (len(ps) > 0) != tc.problem {
			t.Errorf("%s (allowed %v): problems %v, want a problem: %v", tc.url, tc.allowed, ps, tc.problem)
		}
		if len(ps) > 0 && !strings.Contains(ps[0].Message, "allow_insecure_http: true") {
			t.Errorf("%s: the message does not name the way out: %s", tc.url, ps[0].Message)
		}
	}
}
