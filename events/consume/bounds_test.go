package consume

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/nats-io/nats.go"
)

// A client that is not the hub may publish a subject up to the server's
// max_control_line (4 KiB): its dead letter must not be longer than the
// hub's limit, or the DLQ publish itself would get the connection closed.
func TestADeadLetterOfAnOverLongSubjectFitsAndTheNextMessageGoesOn(t *testing.T) {
	f := setup(t, 5*time.Second)
	long := "github." + strings.Repeat("x", 4000) + ".opened"
	m := nats.NewMsg(long)
	m.Data = []byte(`{"n":"long"}`)
	if _, err := f.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int32
	f.run(t, func(ctx context.Context, m *Msg) error {
		if len(m.Subject()) > events.MaxSubjectLen {
			_, _, err := events.ParseGitHubSubject(m.Subject())
			if !errors.Is(err, events.ErrTooLong) {
				t.Errorf("parse of a %d-byte subject: %v", len(m.Subject()), err)
			}
			return events.Permanent(err)
		}
		handled.Add(1)
		return nil
	}, fast(), nil)
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(f.dlq(t)) == 1 })
	d := f.dlq(t)[0]
	if len(d.Subject) > events.MaxSubjectLen || !strings.HasPrefix(d.Subject, "dlq.test-route.github._long_") ||
		d.Header.Get(events.HeaderOriginSubject) != long || string(d.Data) != `{"n":"long"}` {
		t.Fatalf("dead letter on %q (%d bytes), origin %d bytes", d.Subject, len(d.Subject), len(d.Header.Get(events.HeaderOriginSubject)))
	}
	f.publish(t, 1)
	natstest.WaitFor(t, 10*time.Second, "the next message handled", func() bool { return handled.Load() == 1 })
	f.waitSettled(t)
}
