package ingester_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
)

// file is how the hub holds the section.
type file struct {
	Ingester ingester.Config `yaml:"ingester"`
}

func (f *file) Validate() config.Problems { return f.Ingester.Validate("ingester") }

func load(t *testing.T, yml string, env map[string]string) (ingester.Config, error) {
	t.Helper()
	f := &file{Ingester: ingester.DefaultConfig()}
	err := config.LoadBytes([]byte(yml), f, config.Options{Strict: true, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	return f.Ingester, err
}

func TestConfigRefusesToStartWithoutAWebhookSecret(t *testing.T) {
	_, err := load(t, "", nil)
	if err == nil || !strings.Contains(err.Error(), "ingester.github.webhook_secrets: is required") {
		t.Fatalf("no secret: %v", err)
	}
	for _, yml := range []string{"ingester: {github: {enabled: false}}", "ingester: {github: {insecure_skip_signature: true}}"} {
		if _, err := load(t, yml, nil); err != nil {
			t.Fatalf("%s: %v", yml, err)
		}
	}
}

func TestConfigReadsSecretsFromTheEnvironmentAndFiles(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	keyFile := filepath.Join(dir, "app.pem")
	tokenFile := filepath.Join(dir, "token")
	write(t, secrets, "new-secret\nold-secret\n")
	write(t, keyFile, string(testKey(t)))
	write(t, tokenFile, "token-from-a-file-0123456789\n")

	yml := "ingester:\n  github:\n    app: {app_id: 42}\n  odoo_sources:\n    expenses: {model: hr.expense}\n"
	cfg, err := load(t, yml, map[string]string{
		"PULSEHUB_GITHUB_WEBHOOK_SECRET_FILE":                  secrets,
		"PULSEHUB_GITHUB_APP_PRIVATE_KEY_FILE":                 keyFile,
		"PULSEHUB_INGESTER_ODOO_SOURCES_EXPENSES_TOKEN_FILE":   tokenFile,
		"PULSEHUB_INGESTER_ODOO_WEBHOOK_PUBLISH_TIMEOUT":       "500ms",
		"PULSEHUB_INGESTER_ODOO_SOURCES_EXPENSES_POLL_ENABLED": "false",
	})
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.GitHub
	if len(g.WebhookSecrets) != 2 || g.WebhookSecrets[0].Value() != "new-secret" || g.WebhookSecrets[1].Value() != "old-secret" {
		t.Fatalf("secrets %v", g.WebhookSecrets)
	}
	if !g.App.PrivateKey.IsSet() || g.App.AppID != 42 || cfg.OdooSources["expenses"].Token.Value() != "token-from-a-file-0123456789" ||
		cfg.OdooWebhook.PublishTimeout.String() != "500ms" {
		t.Fatalf("cfg %+v", cfg)
	}
	cfg, err = load(t, "", map[string]string{"PULSEHUB_GITHUB_WEBHOOK_SECRET": "a, b"})
	if err != nil || len(cfg.GitHub.WebhookSecrets) != 2 || cfg.GitHub.WebhookSecrets[1].Value() != "b" {
		t.Fatalf("comma list: %v %v", err, cfg.GitHub.WebhookSecrets)
	}
	vars := map[string]bool{}
	f := &file{Ingester: cfg}
	for _, v := range config.EnvVars(f) {
		vars[v.Name] = true
	}
	for _, want := range []string{"PULSEHUB_GITHUB_WEBHOOK_SECRET", "PULSEHUB_GITHUB_WEBHOOK_SECRET_FILE", "PULSEHUB_GITHUB_APP_PRIVATE_KEY_FILE",
		"PULSEHUB_GITHUB_APP_ID", "PULSEHUB_INGESTER_HTTP_LISTEN", "PULSEHUB_INGESTER_GITHUB_MAX_BODY_BYTES"} {
		if !vars[want] {
			t.Errorf("%s is not read", want)
		}
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	cfg := ingester.DefaultConfig()
	cfg.GitHub.WebhookSecrets = []config.Secret{config.NewSecret("s")}
	cfg.GitHub.MaxBodyBytes = 0
	cfg.GitHub.App = ingester.GitHubAppConfig{PrivateKey: config.NewSecret("-----BEGIN nonsense"), BaseURL: "ftp://x"}
	cfg.OdooWebhook.PublishTimeout = 2e9
	cfg.MaxInFlightBytes = -1
	cfg.Odoo = map[string]odoo.Config{"main": {URL: "http://odoo"}}
	cfg.OdooSources = map[string]ingester.OdooSource{
		"bad name!":             {Token: config.NewSecret("0123456789abcdef")},
		"short":                 {Token: config.NewSecret("abc")},
		"none":                  {},
		strings.Repeat("s", 65): {Token: config.NewSecret("0123456789abcdef")},
		"long-model":            {Token: config.NewSecret("0123456789abcdef"), Model: strings.Repeat("m", 65)},
		"poller": {Token: config.NewSecret("0123456789abcdef"), Instance: "other",
			Poll: ingester.PollConfig{Enabled: true, Fields: []string{"name"}, Overlap: 2 * 3600e9, Lookback: 48 * 3600e9, PageSize: -1}},
	}
	ps := cfg.Validate("ingester")
	var got []string
	for _, p := range ps {
		got = append(got, p.Path)
	}
	for _, want := range []string{
		"ingester.github.max_body_bytes", "ingester.github.app.private_key", "ingester.github.app.app_id",
		"ingester.github.app.base_url", "ingester.odoo_webhook.publish_timeout", "ingester.odoo_sources.bad name!",
		"ingester.odoo_sources.short.token", "ingester.odoo_sources.none.token", "ingester.odoo_sources.poller.instance",
		"ingester.odoo_sources.poller.poll", "ingester.odoo_sources.poller.poll.fields", "ingester.odoo_sources.poller.poll.overlap",
		"ingester.odoo_sources.poller.poll.lookback", "ingester.odoo_sources.poller.poll.page_size", "ingester.max_in_flight_bytes",
		"ingester.odoo_sources." + strings.Repeat("s", 65), "ingester.odoo_sources.long-model.model",
	} {
		if !strings.Contains(strings.Join(got, "\n")+"\n", want+"\n") {
			t.Errorf("no problem at %s in:\n%v", want, ps)
		}
	}
	if strings.Contains(ps.Error(), "nonsense") || strings.Contains(ps.Error(), "0123456789abcdef") {
		t.Fatal("a problem quotes a secret")
	}
}

func TestConfigBodyBudget(t *testing.T) {
	const signed = "ingester: {github: {enabled: false}"
	cases := []struct {
		name string
		yml  string
		env  map[string]string
		want int64
		err  string
	}{
		{name: "default 256 MiB", yml: signed + "}", want: 256 << 20},
		{name: "from the file", yml: signed + ", max_in_flight_bytes: 1048576}", want: 1 << 20},
		{name: "from the environment", yml: signed + "}", env: map[string]string{"PULSEHUB_INGESTER_MAX_IN_FLIGHT_BYTES": "0"}, want: 0},
		{name: "negative", yml: signed + ", max_in_flight_bytes: -5}", err: "ingester.max_in_flight_bytes: must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := load(t, c.yml, c.env)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || cfg.MaxInFlightBytes != c.want {
				t.Fatalf("max_in_flight_bytes %d (%v), want %d", cfg.MaxInFlightBytes, err, c.want)
			}
		})
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testKey is a fresh RSA key in PEM, made for the test (never committed).
func testKey(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// Issue 19: the reconciler's window stays inside GitHub's retention and
// the GITHUB duplicate window, and its pacing within what GitHub allows.
func TestConfigBoundsTheReconcilersWindowAndPacing(t *testing.T) {
	app := func(tune func(*ingester.GitHubConfig)) config.Problems {
		cfg := ingester.DefaultConfig()
		cfg.GitHub.WebhookSecrets = []config.Secret{config.NewSecret("s")}
		cfg.GitHub.App.AppID, cfg.GitHub.App.PrivateKey = 7, config.NewSecret(string(testKey(t)))
		cfg.GitHub.DuplicateWindow = 72 * time.Hour
		if tune != nil {
			tune(&cfg.GitHub)
		}
		return cfg.Validate("ingester")
	}
	if ps := app(nil); len(ps) > 0 {
		t.Fatalf("the defaults: %v", ps)
	}
	const p = "ingester.github.app."
	for _, c := range []struct {
		name, path, says string
		tune             func(*ingester.GitHubConfig)
	}{
		{"lookback at GitHub's retention", p + "lookback", "retention", func(g *ingester.GitHubConfig) {
			g.App.Lookback, g.DuplicateWindow = 72*time.Hour, 96*time.Hour
		}},
		{"lookback past the duplicate window", p + "lookback", "duplicate window", func(g *ingester.GitHubConfig) { g.DuplicateWindow = 24 * time.Hour }},
		{"overlap as long as the lookback", p + "overlap", "under the lookback", func(g *ingester.GitHubConfig) { g.App.Overlap = g.App.Lookback }},
		{"no pages", p + "max_pages", "at least 1", func(g *ingester.GitHubConfig) { g.App.MaxPages = 0 }},
		{"no redelivery per pass", p + "max_redeliveries_per_pass", "at least 1", func(g *ingester.GitHubConfig) { g.App.MaxRedeliveriesPerPass = 0 }},
		{"faster than a second", p + "max_redeliveries_per_minute", "over 60", func(g *ingester.GitHubConfig) { g.App.MaxRedeliveriesPerMinute = 61 }},
		{"backoff upside down", p + "redelivery_backoff_max", "shorter", func(g *ingester.GitHubConfig) { g.App.RedeliveryBackoffMax = time.Minute }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps := app(c.tune)
			if len(ps) != 1 || ps[0].Path != c.path || !strings.Contains(ps.Error(), c.says) {
				t.Fatalf("problems %v, want one at %s saying %q", ps, c.path, c.says)
			}
		})
	}
}
