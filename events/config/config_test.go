package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type instance struct {
	URL      string `yaml:"url"`
	Password Secret `yaml:"password"`
}

type sample struct {
	Listen  string              `yaml:"listen"`
	Timeout time.Duration       `yaml:"timeout"`
	Workers int                 `yaml:"workers"`
	Debug   bool                `yaml:"debug"`
	Hook    Secret              `yaml:"hook_secret" env:"PULSEHUB_HOOK_SECRET"`
	Secrets []Secret            `yaml:"secrets"`
	Odoo    map[string]instance `yaml:"odoo"`
	Routes  []struct {
		Name string `yaml:"name"`
	} `yaml:"routes"`
}

func (s *sample) Validate() Problems {
	var ps Problems
	if s.Workers < 1 {
		ps.Add("workers", "must be at least 1, got %d", s.Workers)
	}
	for i, r := range s.Routes {
		if r.Name == "" {
			ps.Add(fmt.Sprintf("routes[%d].name", i), "is required")
		}
	}
	return ps
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadAppliesFileThenEnvironment(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "listen: 127.0.0.1:1\ntimeout: 3s\nodoo:\n  main:\n    url: http://odoo\n"
	cfg := sample{Workers: 4}
	err := LoadBytes([]byte(yml), &cfg, Options{Strict: true, LookupEnv: env(map[string]string{
		"PULSEHUB_LISTEN":                  "0.0.0.0:2",
		"PULSEHUB_ODOO_MAIN_PASSWORD_FILE": secretFile,
		"PULSEHUB_HOOK_SECRET":             "alias-wins",
		"PULSEHUB_HOOK_SECRET_SECRET":      "unused",
		"PULSEHUB_SECRETS":                 "a, b",
		"PULSEHUB_DEBUG":                   "true",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:2" || cfg.Timeout != 3*time.Second || cfg.Workers != 4 || !cfg.Debug {
		t.Fatalf("cfg = %+v", cfg)
	}
	if got := cfg.Odoo["main"].Password.Value(); got != "from-file" {
		t.Fatalf("password = %q", got)
	}
	if cfg.Hook.Value() != "alias-wins" {
		t.Fatalf("hook = %q", cfg.Hook.Value())
	}
	if len(cfg.Secrets) != 2 || cfg.Secrets[1].Value() != "b" {
		t.Fatalf("secrets = %v", cfg.Secrets)
	}
}

func TestLoadReportsEveryProblemWithLines(t *testing.T) {
	yml := "workers: 0\nroutes:\n  - name: ok\n  - name: \"\"\n"
	err := LoadBytes([]byte(yml), &sample{}, Options{Strict: true, LookupEnv: env(nil)})
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("err = %v", err)
	}
	if ps[0].Line != 1 || ps[0].Path != "workers" || ps[1].Line != 4 || ps[1].Path != "routes[1].name" {
		t.Fatalf("problems = %#v", ps)
	}
}

func TestLoadStrictRejectsUnknownKeysAndBadTypes(t *testing.T) {
	yml := "workers: many\nlisten: x\nnope: 1\n"
	err := LoadBytes([]byte(yml), &sample{}, Options{Strict: true, LookupEnv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "line 3: field nope not found") {
		t.Fatalf("err = %v", err)
	}
	if err := LoadBytes([]byte("workers: 1\nnope: 1\n"), &sample{}, Options{LookupEnv: env(nil)}); err != nil {
		t.Fatalf("non-strict load: %v", err)
	}
}

func TestLoadReportsBadEnvironmentValue(t *testing.T) {
	err := LoadBytes(nil, &sample{Workers: 1}, Options{LookupEnv: env(map[string]string{"PULSEHUB_TIMEOUT": "soon"})})
	if err == nil || !strings.Contains(err.Error(), "PULSEHUB_TIMEOUT") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2")
	var sb strings.Builder
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("x", "secret", s, "cfg", sample{Hook: s})
	j, _ := json.Marshal(sample{Hook: s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), sb.String(), string(j)} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %s", out)
		}
	}
}

func TestSecretFromYAMLReference(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "s")
	if err := os.WriteFile(f, []byte("filed"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SAMPLE_SECRET_VAR", "enved")
	yml := fmt.Sprintf("workers: 1\nhook_secret: {env: SAMPLE_SECRET_VAR}\nodoo:\n  a: {password: {file: %q}}\n", f)
	var cfg sample
	if err := LoadBytes([]byte(yml), &cfg, Options{Strict: true, LookupEnv: env(nil)}); err != nil {
		t.Fatal(err)
	}
	if cfg.Hook.Value() != "enved" || cfg.Odoo["a"].Password.Value() != "filed" {
		t.Fatalf("cfg = %v %v", cfg.Hook.Source(), cfg.Odoo["a"].Password.Source())
	}
	err := LoadBytes([]byte("hook_secret: {file: /does/not/exist}\n"), &cfg, Options{LookupEnv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "read secret file") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnvVarsListsDerivedNamesAliasesAndFiles(t *testing.T) {
	cfg := sample{Odoo: map[string]instance{"main": {}}}
	names := map[string]bool{}
	for _, v := range EnvVars(&cfg) {
		names[v.Name] = true
	}
	for _, want := range []string{"PULSEHUB_LISTEN", "PULSEHUB_HOOK_SECRET", "PULSEHUB_HOOK_SECRET_FILE", "PULSEHUB_ODOO_MAIN_PASSWORD_FILE", "PULSEHUB_SECRETS"} {
		if !names[want] {
			t.Errorf("missing %s in %v", want, names)
		}
	}
}
