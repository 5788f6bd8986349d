package consume

import (
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/nats-io/nats.go"
)

func TestDeadLetterInfoReadsBackWhatItWrites(t *testing.T) {
	in := DeadLetterInfo{Reason: "Odoo said: ValidationError | line two", Kind: KindExhausted, Attempts: 8,
		Time: time.Date(2026, 11, 22, 5, 15, 0, 0, time.UTC), OriginStream: events.StreamOdooCmd, OriginSeq: 42,
		OriginSubject: "odoo.cmd.res_partner.create", Route: "odoo-cmd"}
	h := nats.Header{}
	in.SetHeaders(h)
	if len(h) != len(DeadLetterHeaders) {
		t.Fatalf("wrote %d headers, DeadLetterHeaders lists %d: %v", len(h), len(DeadLetterHeaders), h)
	}
	for _, name := range DeadLetterHeaders {
		if h.Get(name) == "" || !IsDeadLetterHeader(name) {
			t.Errorf("header %s not written or not recognised", name)
		}
	}
	if got := ReadDeadLetterInfo(h); got != in {
		t.Fatalf("read back %+v, wrote %+v", got, in)
	}
	if h.Get(events.HeaderDLQTime) != "2026-11-22T05:15:00Z" || h.Get(events.HeaderOriginSeq) != "42" || h.Get(events.HeaderDLQAttempts) != "8" {
		t.Fatalf("headers %v", h)
	}
	if IsDeadLetterHeader(events.HeaderID) || IsDeadLetterHeader(events.HeaderRequeuedFor) {
		t.Fatal("an envelope or requeue header taken for a dead-letter header")
	}
}

// A message published to the DLQ by hand lacks most headers: what it has
// is read, the rest stays zero.
func TestDeadLetterInfoOfAHandPublishedMessage(t *testing.T) {
	h := nats.Header{}
	h.Set(events.HeaderRoute, "github-issues-to-tasks")
	h.Set(events.HeaderOriginSeq, "not a number")
	got := ReadDeadLetterInfo(h)
	if got != (DeadLetterInfo{Route: "github-issues-to-tasks"}) {
		t.Fatalf("read %+v", got)
	}
}
