package batch

import (
	"testing"
	"time"
)

func TestDeliveriesAreThroughOnceEveryOneBeforeCame(t *testing.T) {
	now := time.Now()
	d := newDeliveries(11) // 10 delivered before the writer started
	d.account(12, now)
	d.account(14, now)
	if d.through(12, now, time.Second) {
		t.Fatal("through 12 with 11 missing")
	}
	d.account(11, now)
	if !d.through(12, now, time.Second) || d.through(14, now, time.Second) {
		t.Fatal("11 and 12 came, 13 did not")
	}
	d.account(9, now) // before the writer started: ignored
	d.account(13, now)
	if !d.through(14, now, time.Second) || d.next != 15 || len(d.ahead) != 0 {
		t.Fatalf("every delivery came: next %d, ahead %v", d.next, d.ahead)
	}
}

// A delivery that never comes (the consume loop settled its message
// itself, another replica has it) holds a batch back for grace at most.
func TestDeliveriesGiveUpOnAGapAfterTheGrace(t *testing.T) {
	now := time.Now()
	d := newDeliveries(1)
	d.account(2, now)
	d.account(4, now)
	if d.through(4, now.Add(time.Millisecond), 20*time.Millisecond) {
		t.Fatal("gave up on 1 at once")
	}
	if !d.through(2, now.Add(30*time.Millisecond), 20*time.Millisecond) || d.next != 3 {
		t.Fatalf("after the grace: next %d", d.next)
	}
	// 3 went missing when 1 was given up on: a grace of its own.
	if d.through(4, now.Add(35*time.Millisecond), 20*time.Millisecond) {
		t.Fatal("gave up on 3 without its own grace")
	}
	if !d.through(4, now.Add(60*time.Millisecond), 20*time.Millisecond) || d.next != 5 {
		t.Fatalf("next %d", d.next)
	}
}

func TestDeliveriesAheadOfAGapAreBounded(t *testing.T) {
	now := time.Now()
	d := newDeliveries(1)
	for s := uint64(2); s <= maxAhead+2; s++ {
		d.account(s, now)
	}
	if len(d.ahead) > maxAhead || d.next != maxAhead+3 {
		t.Fatalf("%d ahead, next %d", len(d.ahead), d.next)
	}
}
