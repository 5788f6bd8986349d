package hubconfig

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"

	"github.com/insightpulse/pulsehub/events"
)

// Issue 19, point 4: the reconciler redelivers up to its lookback after a
// delivery, so GITHUB must remember a delivery GUID at least that long
// for a redelivery of a delivery already stored to be stored once. The
// defaults hold it, and a shorter window is refused.
func TestTheReconcilerLookbackStaysInsideGITHUBsDuplicateWindow(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PULSEHUB_GITHUB_WEBHOOK_SECRET": "s", "PULSEHUB_ODOO_DEFAULT_PASSWORD": "p",
		"PULSEHUB_INGESTER_ODOO_SOURCES_EXPENSES_TOKEN": "0123456789abcdef0123", "PULSEHUB_GITHUB_APP_ID": "7",
		"PULSEHUB_GITHUB_APP_PRIVATE_KEY": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))}
	c := loadYAML(t, onlyYAML, env)
	if window, lookback := c.Streams.Limits[events.StreamGitHub].DuplicateWindow, c.Ingester.GitHub.App.Lookback; window <= lookback {
		t.Fatalf("GITHUB's default duplicate window %s does not cover the reconciler's default lookback %s", window, lookback)
	}
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("the defaults with a GitHub App: %v", ps)
	}
	c = loadYAML(t, onlyYAML+"streams: {limits: {GITHUB: {max_age: 720h, duplicate_window: 24h}}}\n", env)
	for _, only := range [][]string{nil, {Ingester}} {
		if got := paths(c.ValidateFor(only)); !slices.Equal(got, []string{"ingester.github.app.lookback"}) {
			t.Fatalf("ValidateFor(%v) with a 24h window: problems at %v", only, got)
		}
	}
}
