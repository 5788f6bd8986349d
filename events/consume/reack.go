package consume

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// maxRecentAcks bounds the acknowledgements a loop remembers (a loop
// acknowledging thousands a second keeps the newest).
const maxRecentAcks = 1 << 14

// recentAcks remembers the acknowledgements a loop sent lately, so it can
// send them again once its consumer answers after trouble. An ack is a
// plain publish: one sent while the connection's server dies, or while
// the consumer's leader is gone (killed, cut off: its peers elect a new
// one after 4-9s), is lost without an error, and its message comes back
// only after the ack wait. The server ignores a second ack of a message
// already acknowledged, so sending them again is safe and costs one small
// publish each.
type recentAcks struct {
	window time.Duration // how long an ack is remembered

	mu   sync.Mutex
	acks []sentAck // oldest first
}

type sentAck struct {
	at    time.Time
	reply string // the message's ack subject
}

func newRecentAcks(window time.Duration) *recentAcks { return &recentAcks{window: window} }

// add remembers an ack sent on reply now.
func (r *recentAcks) add(reply string) {
	if r == nil || reply == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(time.Now())
	if len(r.acks) >= maxRecentAcks {
		r.acks = r.acks[1:]
	}
	r.acks = append(r.acks, sentAck{at: time.Now(), reply: reply})
}

// prune drops the acks older than the window; r.mu is held.
func (r *recentAcks) prune(now time.Time) {
	i := 0
	for i < len(r.acks) && now.Sub(r.acks[i].at) > r.window {
		i++
	}
	if i > 0 {
		r.acks = append(r.acks[:0], r.acks[i:]...)
	}
}

// resend publishes every remembered ack again and returns how many it
// sent, stopping at the first failure (the connection is away again: the
// next recovery sends them).
func (r *recentAcks) resend(nc *nats.Conn) (int, error) {
	r.mu.Lock()
	r.prune(time.Now())
	replies := make([]string, len(r.acks))
	for i, a := range r.acks {
		replies[i] = a.reply
	}
	r.mu.Unlock()
	for i, reply := range replies {
		if err := nc.Publish(reply, ackBody); err != nil {
			return i, err
		}
	}
	return len(replies), nil
}

// ackBody is what jetstream.Msg.Ack sends.
var ackBody = []byte("+ACK")

// trouble follows the signs that acks may have been lost since the loop
// last re-sent them: a reconnect of the connection, a pull that failed,
// or a pull that nobody answered in time (the consumer's leader is gone;
// the client gives up a second after the pull's own expiry).
type trouble struct {
	nc         *nats.Conn
	reconnects uint64
	seen       bool
}

func newTrouble(nc *nats.Conn) *trouble { return &trouble{nc: nc, reconnects: nc.Stats().Reconnects} }

// saw records a sign of trouble.
func (t *trouble) saw() { t.seen = true }

// check records a reconnect since the last check, and reports whether
// trouble was seen since the last recovery.
func (t *trouble) check() bool {
	if r := t.nc.Stats().Reconnects; r != t.reconnects {
		t.reconnects, t.seen = r, true
	}
	return t.seen
}

// recovered ends the trouble: the consumer answered a pull.
func (t *trouble) recovered() { t.seen = false }
