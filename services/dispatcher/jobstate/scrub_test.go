package jobstate

import (
	"context"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
)

// Whoever writes a record, its last_error (what `hub jobs show` prints)
// holds no configured secret.
func TestLastErrorIsStoredWithoutSecrets(t *testing.T) {
	const token = "jobstate-token-4b8d"
	config.NewSecret(token)
	s, _ := open(t, 0)
	ctx := context.Background()
	if err := s.Put(ctx, Record{ID: "j", Service: "s", Task: "t", State: Failed, LastError: "HTTP 500: echo " + token}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Get(ctx, "j")
	if err != nil {
		t.Fatal(err)
	}
	if r.LastError != "HTTP 500: echo [redacted]" || strings.Contains(r.LastError, token) {
		t.Fatalf("last_error = %q", r.LastError)
	}
}
