package ingester_test

import (
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
)

// The App's JWT goes to base_url: http:// to another machine is refused
// unless allow_insecure_http says the network is trusted.
func TestGitHubAppBaseURLInClearTextIsRefusedUnlessAllowed(t *testing.T) {
	for _, tc := range []struct {
		url     string
		allow   bool
		problem bool
	}{
		{"http://ghes.internal/api/v3/", false, true},
		{"http://ghes.internal/api/v3/", true, false},
		{"http://127.0.0.1:8443/", false, false},
		{"https://ghes.internal/api/v3/", false, false},
	} {
		cfg := ingester.DefaultConfig()
		cfg.GitHub.Enabled = false
		cfg.GitHub.App = ingester.GitHubAppConfig{AppID: 7, PrivateKey: config.NewSecret("-----BEGIN not checked here"), BaseURL: tc.url,
			AllowInsecureHTTP: tc.allow, Interval: 1, Lookback: 1}
		got := strings.Contains(cfg.Validate("ingester").Error(), "ingester.github.app.base_url: http:// to ghes.internal would send the App's signed JWT")
		if got != tc.problem {
			t.Errorf("%s (allow %v): problem %v, want %v: %v", tc.url, tc.allow, got, tc.problem, cfg.Validate("ingester"))
		}
	}
}
