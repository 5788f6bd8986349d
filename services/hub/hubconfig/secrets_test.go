package hubconfig

import (
	"slices"
	"strings"
	"testing"
)

// A secret too short for the scrubber to look for is a notice (logged by
// `hub run`, printed by `hub config check`), once however often the
// config is validated; it does not stop the hub.
func TestShortSecretsAreNoticedOnce(t *testing.T) {
	c := loadYAML(t, onlyYAML, map[string]string{"PULSEHUB_ODOO_DEFAULT_PASSWORD": "admin",
		"PULSEHUB_GITHUB_WEBHOOK_SECRET": "a-long-enough-webhook-secret"})
	for range 2 {
		if ps := c.Validate(); slices.Contains(paths(ps), "odoo.default.password") {
			t.Fatalf("a short password refused: %v", ps)
		}
	}
	var short []string
	for _, n := range c.Notices {
		if strings.Contains(n, "shorter than 8 bytes") {
			short = append(short, n)
		}
	}
	if len(short) != 1 || !strings.HasPrefix(short[0], "odoo.default.password is shorter than 8 bytes") {
		t.Fatalf("notices %q, want one about odoo.default.password", c.Notices)
	}
}
