package hubconfig

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md")

// TestReference keeps docs/configuration.md equal to what the config
// structs say; run with -update after changing a config struct.
func TestReference(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	got, err := Reference(root)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "docs", "configuration.md")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if string(want) != got {
		t.Fatal("docs/configuration.md is stale: run go test ./services/hub/hubconfig -run TestReference -update")
	}
	for _, must := range []string{"`ingester.github.webhook_secrets`", "PULSEHUB_GITHUB_WEBHOOK_SECRET", "`routes[].odoo.model`", "`odoo.<name>.password`", "`streams.replicas`"} {
		if !strings.Contains(got, must) {
			t.Errorf("reference lacks %s", must)
		}
	}
}

func TestDefaultConfigIsValidWithASecret(t *testing.T) {
	c := Default()
	c.zeroConfig = true
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("defaults: %v", ps)
	}
	if c.Ingester.GitHub.Enabled || len(c.Notices) != 1 {
		t.Fatalf("zero config must turn GitHub off with a notice: %+v", c.Notices)
	}
}
