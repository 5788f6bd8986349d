package writer

import (
	"context"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/nats-io/nats.go/jetstream"
)

// A command published from outside the hub on a subject longer than the
// hub's limit (the server takes up to its 4 KiB control line) is
// dead-lettered on a subject within it, and the next command is written.
func TestOdooCmdWithAnOverLongModelIsDeadLetteredAndTheNextIsWritten(t *testing.T) {
	h := setup(t, "")
	h.start(t)
	model := strings.Repeat("m", 2000)
	h.publish(t, "odoo.cmd."+model+".unlink", "c-long", []byte(`{"op": "unlink", "model": "`+model+`", "id": 7}`))
	h.publish(t, "odoo.cmd."+strings.Repeat("m", 65)+".unlink", "c-65", []byte(`{"op": "unlink", "model": "`+strings.Repeat("m", 65)+`", "id": 7}`))
	h.publish(t, "odoo.cmd.res_partner.create", "c-ok", []byte(`{"op": "create", "model": "res.partner", "values": {"name": "After Co"}}`))
	h.settled(t, events.StreamOdooCmd, "odoo-cmd")

	if r := byField(h.fake.Records("res.partner"), "name")["After Co"]; r == nil {
		t.Fatalf("partners = %v", h.fake.Records("res.partner"))
	}
	dl := h.dlq(t)
	if len(dl) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dl))
	}
	for _, m := range dl {
		if len(m.Subject) > events.MaxSubjectLen || !strings.HasPrefix(m.Subject, "dlq.odoo-cmd.odoo.cmd.") ||
			m.Header.Get(events.HeaderDLQKind) != "permanent" || !strings.Contains(m.Header.Get(events.HeaderDLQReason), "too long") &&
			!strings.Contains(m.Header.Get(events.HeaderDLQReason), "maxLength") {
			t.Errorf("dead letter on %d bytes: %v", len(m.Subject), m.Header)
		}
	}
}

// odoo-cmd's consumer reads ODOO_CMD, and its handler takes nothing from
// another stream, whatever the subject says.
func TestOdooCmdTakesCommandsFromItsStreamOnly(t *testing.T) {
	spec := cmdSpec(DefaultConfig())
	if spec.From.Stream != events.StreamOdooCmd || len(spec.From.Subjects) != 1 || spec.From.Subjects[0] != "odoo.cmd.>" {
		t.Fatalf("odoo-cmd reads %+v", spec.From)
	}
	for _, stream := range []string{events.StreamGitHub, events.StreamDLQ, events.StreamResults, ""} {
		m := &consume.Msg{Raw: subjectOnly{subject: "odoo.cmd.res_partner.unlink"}, Route: "odoo-cmd", Meta: &jetstream.MsgMetadata{Stream: stream}}
		m.Event.ContentType = "application/json"
		err := cmdHandler("default", nil, newGate())(context.Background(), m) // never reaches the batcher
		if !events.IsPermanent(err) || !strings.Contains(err.Error(), "from stream ODOO_CMD only") {
			t.Fatalf("a command from %q: %v", stream, err)
		}
	}
}

// subjectOnly is a message with a subject and a body; anything else
// it is asked panics (the nil jetstream.Msg it embeds).
type subjectOnly struct {
	jetstream.Msg
	subject string
}

func (s subjectOnly) Subject() string { return s.subject }
func (subjectOnly) Data() []byte      { return []byte(`{"op": "unlink", "model": "res.partner", "id": 7}`) }
