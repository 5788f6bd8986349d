package probe

import (
	"context"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// The ingester replica that answers /metrics may be one standing by (its
// gauges zero): the checkpoint, shared by every replica, says what the
// reconciler found.
func TestReconcilerGradesFromTheSharedCheckpoint(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	standingBy := serving("/metrics", 200, metricsText(0, time.Unix(0, 0)))
	defer standingBy.Close()
	clock := func() time.Time { return now }
	p := &Reconciler{URL: standingBy.URL, Thresholds: DefaultReconcilerThresholds(), Clock: clock, JS: js}
	check := func() Result {
		t.Helper()
		rs, err := p.Check(context.Background())
		if err != nil || len(rs) != 1 {
			t.Fatalf("check: %v %v", rs, err)
		}
		return rs[0]
	}
	if r := check(); r.Status != status.OK || r.Details["source"] != "metrics" || r.Message != "no pass finished yet" {
		t.Fatalf("no checkpoints bucket: %s %q %v", r.Status, r.Message, r.Details)
	}

	kv, err := stream.EnsureBucket(t.Context(), js, stream.Bucket(stream.DefaultConfig(), events.BucketCheckpoints, "", 5, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, value string
		want        status.Status
		source, msg string
	}{
		{"failed deliveries", `{"since": "2026-01-01T11:55:00Z", "failed": 3, "redelivered": 3, "at": "2026-01-01T11:59:00Z"}`,
			status.Warning, "checkpoint", "3 failed GitHub deliveries in the last window (warning from 1)"},
		{"stale", `{"failed": 0, "at": "2026-01-01T11:00:00Z"}`, status.Warning, "checkpoint", "last pass 1h0m0s ago (stale after 30m0s)"},
		{"not a checkpoint", `{"failed": "many"}`, status.OK, "metrics", "no pass finished yet"},
		{"no pass yet", `{"failed": 0}`, status.OK, "metrics", "no pass finished yet"},
		// Issue 19, point 7: why the last pass failed is on the health page.
		{"the hub's clock is off", `{"since": "0001-01-01T00:00:00Z", "failed": 0, "redelivered": 0, "at": "0001-01-01T00:00:00Z", "errors": 1,
			"error_class": "jwt_clock", "error": "GitHub refuses the App's JWT for its time claims, so the hub's clock is off", "error_at": "2026-01-01T11:59:00Z"}`,
			status.Critical, "checkpoint", "last error (jwt_clock): GitHub refuses the App's JWT for its time claims, so the hub's clock is off; no pass finished yet"},
		{"rate limited", `{"since": "2026-01-01T11:55:00Z", "failed": 0, "redelivered": 0, "at": "2026-01-01T11:59:00Z", "errors": 1,
			"error_class": "rate_limited", "error": "GitHub's rate limit", "error_at": "2026-01-01T11:59:00Z", "paused_until": "2026-01-01T12:30:00Z"}`,
			status.Warning, "checkpoint", "last error (rate_limited): GitHub's rate limit; no failed deliveries in the last window"},
		{"one refused", `{"since": "2026-01-01T11:55:00Z", "failed": 1, "redelivered": 0, "at": "2026-01-01T11:59:00Z", "refused": 1, "errors": 1,
			"error_class": "redelivery_refused", "error": "422", "error_at": "2026-01-01T11:59:00Z"}`,
			status.Warning, "checkpoint", "last error (redelivery_refused): 422; 1 failed GitHub deliveries in the last window (warning from 1)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := kv.Put(t.Context(), wire.ReconcilerKey, []byte(c.value)); err != nil {
				t.Fatal(err)
			}
			if r := check(); r.Status != c.want || r.Details["source"] != c.source || r.Message != c.msg {
				t.Fatalf("got %s %q from %v, want %s %q from %s", r.Status, r.Message, r.Details["source"], c.want, c.msg, c.source)
			}
		})
	}
}
