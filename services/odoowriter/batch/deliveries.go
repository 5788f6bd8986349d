package batch

import "time"

// deliveries accounts for the messages of one consumer by their delivery
// (consumer) sequence, which JetStream numbers without gaps: while one
// below the newest has not reached the batcher (its message is still being
// mapped), a batch is not complete. A gap open for longer than the linger
// is given up on: its message never comes here (the consume loop settled
// it itself, another replica of the writer has it), and waiting for it
// would only hold the batch back.
type deliveries struct {
	next  uint64              // the lowest delivery not accounted for
	ahead map[uint64]struct{} // accounted deliveries above next
	since time.Time           // when next was first found missing: a delivery above it came first
}

// maxAhead bounds the deliveries remembered above a gap: past it the gap
// and everything below the newest are given up on.
const maxAhead = 100000

func newDeliveries(next uint64) *deliveries {
	return &deliveries{next: next, ahead: map[uint64]struct{}{}}
}

// account records that delivery seq reached the batcher (a plan, or a
// message that gave none).
func (d *deliveries) account(seq uint64, now time.Time) {
	switch {
	case seq < d.next:
		return // a gap given up on, or before the writer started
	case seq == d.next:
		d.next++
		d.advance(now)
	default:
		if len(d.ahead) == 0 {
			d.since = now
		}
		d.ahead[seq] = struct{}{}
		if len(d.ahead) > maxAhead {
			d.next, d.ahead, d.since = seq+1, map[uint64]struct{}{}, now
		}
	}
}

func (d *deliveries) advance(now time.Time) {
	for {
		if _, ok := d.ahead[d.next]; !ok {
			break
		}
		delete(d.ahead, d.next)
		d.next++
	}
	d.since = now
}

// through reports whether every delivery up to seq has been accounted
// for, giving up on a gap open for longer than grace.
func (d *deliveries) through(seq uint64, now time.Time, grace time.Duration) bool {
	for d.next <= seq {
		if now.Sub(d.since) <= grace {
			return false
		}
		d.next++ // given up on
		d.advance(now)
	}
	return true
}
