package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
)

// Issue 19, point 7: GitHub refuses the App's JWT when the hub's clock is
// off (ghinstallation dates it 30 s back and lets it expire 90 s later).
// The error says so, with the difference read from GitHub's Date header,
// in the log and in the checkpoint the health page reads.
func TestAClockProblemWithTheJWTIsReportedAsSuch(t *testing.T) {
	for _, c := range []struct {
		name    string
		github  time.Duration // GitHub's clock, from the hub's
		message string        // GitHub's
		says    string        // the reconciler's
	}{
		{"hub ahead", -2 * time.Minute, githubtest.MessageIssuedAt, "ahead of GitHub's"},
		{"hub behind", 3 * time.Minute, githubtest.MessageExpired, "behind GitHub's"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.gh.Add(githubtest.Delivery{GUID: "lost", DeliveredAt: ago(time.Hour), StatusCode: 0, Event: "push"})
			e.gh.SetClock(func() time.Time { return time.Now().Add(c.github) })
			_, err := e.pass(t, e.reconciler(t, nil))
			if err == nil || !strings.Contains(err.Error(), "clock") || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v: want one about the hub's clock (%s)", err, c.says)
			}
			cp := e.checkpoint(t)
			if cp.ErrorClass != wire.ReconcilerErrorJWTClock || !strings.Contains(cp.Error, c.message) || !strings.Contains(cp.Error, "NTP") ||
				cp.ErrorAt.IsZero() || !cp.At.IsZero() {
				t.Fatalf("checkpoint %+v", cp)
			}
		})
	}
}

// Run logs the clock problem once per pass, at ERROR, with its class.
func TestAClockProblemIsLoggedAsAnError(t *testing.T) {
	e := newEnv(t)
	e.gh.SetClock(func() time.Time { return time.Now().Add(-2 * time.Minute) })
	r := e.reconciler(t, nil)
	r.Interval = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	natstest.WaitFor(t, 10*time.Second, "the failed pass's log line", func() bool {
		return strings.Contains(e.log.String(), `"error_class":"jwt_clock"`)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if log := e.log.String(); !strings.Contains(log, `"level":"ERROR"`) || !strings.Contains(log, "the hub's clock is off") {
		t.Fatalf("log: %s", log)
	}
}
