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
