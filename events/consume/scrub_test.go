package consume

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
)

// A failure whose text carries a configured secret (a service echoing its
// Authorization header) is dead-lettered with the secret scrubbed from
// the reason header, which `hub dlq show` prints.
func TestDeadLetterReasonHoldsNoSecret(t *testing.T) {
	const token = "dlq-token-51f0c2aa"
	config.NewSecret("Bearer " + token)
	f := setup(t, 5*time.Second)
	f.publish(t, 1)
	f.run(t, func(ctx context.Context, m *Msg) error {
		return events.Permanentf("POST /extract: 401 Unauthorized: bad header Authorization: Bearer %s", token)
	}, fast(), nil)
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	f.waitSettled(t)
	reason := f.dlq(t)[0].Header.Get(events.HeaderDLQReason)
	if reason != "POST /extract: 401 Unauthorized: bad header Authorization: [redacted]" {
		t.Errorf("reason = %q", reason)
	}
	if strings.Contains(reason, token) {
		t.Fatal("the token is in the dead letter")
	}
}
