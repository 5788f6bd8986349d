package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/deploy/playground/playgroundtest"
)

const token = "partners-token-0123456789abcdef"

func hubYAML(t *testing.T, odooURL string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hub.yaml")
	yml := `
odoo:
  default: {url: "` + odooURL + `", database: hubtest, login: admin}
ingester:
  odoo_sources:
    partners: {model: res.partner, instance: default, poll: {enabled: true, fields: [name, email, write_date]}}
`
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunInstallsTheRuleWithoutLoggingTheToken(t *testing.T) {
	o := playgroundtest.New(t, true, "name", "email", "write_date")
	t.Setenv("PULSEHUB_ODOO_DEFAULT_PASSWORD", "admin")
	t.Setenv("PULSEHUB_INGESTER_ODOO_SOURCES_PARTNERS_TOKEN", token)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--config", hubYAML(t, o.URL), "--ingester-url", "http://ingester:8080"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), `"msg":"automation rule ready"`) || strings.Contains(stdout.String()+stderr.String(), token) {
		t.Fatalf("output: %s", stdout.String())
	}
	actions := o.Records(t, "ir.actions.server", "webhook_url")
	if len(actions) != 1 || actions[0].String("webhook_url") != "http://ingester:8080/odoo/partners/"+token {
		t.Fatalf("actions %v", actions)
	}
}

func TestRunExitCodes(t *testing.T) {
	o := playgroundtest.New(t, true, "name")
	t.Setenv("PULSEHUB_ODOO_DEFAULT_PASSWORD", "admin")
	t.Setenv("PULSEHUB_INGESTER_ODOO_SOURCES_PARTNERS_TOKEN", token)
	cfg := hubYAML(t, o.URL)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"missing config", []string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, 2, "read config"},
		{"unknown source", []string{"--config", cfg, "--source", "expenses"}, 2, "no such source"},
		{"a field Odoo lacks", []string{"--config", cfg}, 1, "has no field email, write_date"},
		{"odoo never ready", []string{"--config", hubYAML(t, "http://127.0.0.1:1"), "--wait", "300ms"}, 1, "odoo not ready"},
		{"an invalid odoo instance", []string{"--config", hubYAML(t, "ftp://odoo")}, 2, "odoo.url: must be an http or https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
				t.Fatalf("exit %d, want %d with %q: %s %s", code, tc.code, tc.want, stdout.String(), stderr.String())
			}
		})
	}
}
