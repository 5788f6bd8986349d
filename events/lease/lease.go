// Package lease lets one replica at a time run a piece of singleton work
// (the ingester's Odoo polls and GitHub reconciler, the health monitor's
// publishing) while every replica stands ready to take over.
//
// A lease is one key in the JetStream key-value bucket events.BucketLeases
// (`nats kv get leases <key>` shows who holds it). Acquiring it is a KV
// Create of the key with a per-key TTL, which fails while another replica
// holds it; the holder renews it every TTL/3 with a write that expects the
// last revision it wrote, and deletes it (at that revision) when it stops,
// so a waiting replica takes over at once. A holder that dies, or is cut
// off from NATS, stops renewing: the server removes the key when its TTL
// runs out and leaves a marker that wakes the replicas watching it.
//
// Expiry is the server's (per-message TTL, nats-server 2.11 or later, the
// bucket made with LimitMarkerTTL), not a time written in the value: no
// replica compares its clock with another's. A holder that cannot renew
// stops its work a third of the TTL before the server could give the
// lease to another replica (its deadline counts from when it sent its last
// successful renewal, which the server stored later), so two holders do
// not overlap while the servers' clocks run at the same rate.
//
// An operator pauses the work on every replica by putting any other value
// at the key (`nats kv put leases <key> paused`: the holder's next renewal
// fails and it stops; nobody can Create the key) and resumes it by
// deleting the key.
//
// A lease saves work, it is not a lock that makes work correct: what it
// guards must still be safe to do twice (the hub's polls and transitions
// are de-duplicated by event id), since a holder's last write in flight
// can land after its deadline.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultTTL is how long a lease outlives its holder's last renewal.
const DefaultTTL = 15 * time.Second

// Lease runs work while it holds one key of the leases bucket. Its zero
// values are the defaults; JS and Key are required.
type Lease struct {
	JS      jetstream.JetStream // the replica's JetStream connection
	Streams stream.Config       // replicas of the leases bucket, made on first use
	Key     string              // the lease's key: [-/_=.a-zA-Z0-9], by convention <service>.<job>
	Holder  string              // who holds it, for operators; default DefaultHolder()
	TTL     time.Duration       // whole seconds, at least 1s; default 15s
	Retry   time.Duration       // how often a waiting replica tries again when no change of the key woke it; default TTL
	Log     *slog.Logger        // default slog.Default()
	Metrics *Metrics            // may be nil
}

// Record is a lease's value in the bucket.
type Record struct {
	Holder     string    `json:"holder"`      // Lease.Holder
	Token      string    `json:"token"`       // one per Run: tells two Runs of the same holder apart
	TTL        string    `json:"ttl"`         // the key's TTL
	AcquiredAt time.Time `json:"acquired_at"` // when this holder took the lease (the holder's clock)
	RenewedAt  time.Time `json:"renewed_at"`  // its last renewal (the holder's clock)
}

// DefaultHolder names this process: its host name (a pod's name) and pid.
func DefaultHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

var validKey = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$`)

// Run runs fn while this replica holds the lease, and keeps trying to
// acquire it otherwise, until ctx is done. fn's ctx is cancelled when the
// lease is lost (not renewed in time, or written by someone else); Run
// then waits for fn to return and contends again, so fn may run many
// times. When fn returns by itself, Run releases the lease and returns
// fn's error. When ctx is done, Run cancels fn, waits for it, releases the
// lease and returns nil. Only a bad Lease is an error at once.
func (l Lease) Run(ctx context.Context, fn func(ctx context.Context) error) error {
	r, err := l.runner()
	if err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("lease %s: no work to run", l.Key)
	}
	defer running.Delete(r.token)
	return r.run(ctx, fn)
}

// running holds the token of every Run in this process that has not
// returned: a record with this replica's holder name and a token not in
// it was written by a Run that is gone (see acquire).
var running sync.Map

// runner checks l, applies the defaults and draws the Run's token.
func (l Lease) runner() (*runner, error) {
	if l.JS == nil {
		return nil, fmt.Errorf("lease %s: no JetStream", l.Key)
	}
	if !validKey.MatchString(l.Key) {
		return nil, fmt.Errorf("lease %q: a key is made of [-/_=.a-zA-Z0-9], dot-separated tokens", l.Key)
	}
	if l.TTL == 0 {
		l.TTL = DefaultTTL
	}
	// The server keeps whole seconds of a message TTL: a holder counting
	// on 1.5s where the server counts 1s would overlap with the next one.
	if l.TTL = l.TTL.Truncate(time.Second); l.TTL < time.Second {
		return nil, fmt.Errorf("lease %s: ttl must be at least 1s (the server counts whole seconds)", l.Key)
	}
	if l.Retry <= 0 {
		l.Retry = l.TTL // the watch wakes a waiting replica; this is for a watch that missed it
	}
	if l.Holder == "" {
		l.Holder = DefaultHolder()
	}
	if l.Log == nil {
		l.Log = slog.Default()
	}
	// The Run's token is the correlation id of its log lines.
	token := events.NewID()
	running.Store(token, struct{}{})
	log := l.Log.With("correlation_id", token, "component", "lease", "lease", l.Key, "holder", l.Holder)
	return &runner{Lease: l, token: token, log: log}, nil
}

// runner is one Run's state.
type runner struct {
	Lease
	token string
	log   *slog.Logger
	kv    jetstream.KeyValue // nil until the bucket was ensured
	twin  bool               // another live process uses this holder name: never take its lease over
}

// run contends for the lease and holds it in turn until ctx is done.
func (r *runner) run(ctx context.Context, fn func(context.Context) error) error {
	r.Metrics.idle(r.Key)
	standingBy, lastErr := false, ""
	for {
		g, err := r.acquire(ctx)
		if err == nil {
			standingBy, lastErr = false, ""
			if finished, err := r.hold(ctx, g, fn); finished {
				return err
			}
			continue // lost: contend again at once
		}
		if ctx.Err() != nil {
			return nil
		}
		var held *heldError
		switch {
		case errors.As(err, &held) && !standingBy:
			standingBy = true
			r.log.Info("lease held by another replica: standing by", "held_by", held.rec.Holder, "ttl", r.TTL.String())
		case !errors.As(err, &held) && err.Error() != lastErr: // once per failure, not per retry
			lastErr = err.Error()
			r.log.Warn("lease not acquired: trying again", "error", lastErr, "retry_in", r.Retry.String())
		}
		r.waitFree(ctx, held != nil)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// waitFree returns when the key is deleted or expires, after Retry, or
// when ctx is done, whichever comes first. With initial, a key found free
// when the watch starts counts too: it was released since acquire saw it
// held. (Not after other failures: a free key that cannot be created
// would make a busy loop.)
func (r *runner) waitFree(ctx context.Context, initial bool) {
	retry := time.NewTimer(r.Retry)
	defer retry.Stop()
	var updates <-chan jetstream.KeyValueEntry
	if r.kv != nil {
		if w, err := r.kv.Watch(ctx, r.Key); err == nil {
			defer func() { _ = w.Stop() }()
			updates = w.Updates()
		}
	}
	live, seenPut := false, false
	for {
		select {
		case e, ok := <-updates:
			switch {
			case !ok:
				updates = nil // the watch ended (NATS away): the timer remains
			case e == nil: // the current value, if any, has been delivered
				live = true
				if initial && !seenPut {
					return
				}
			case e.Operation() == jetstream.KeyValuePut:
				seenPut = true
			case live || initial:
				return // released, expired or deleted by hand: try now
			}
		case <-retry.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// bucket ensures the leases bucket once per Run.
func (r *runner) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	if r.kv != nil {
		return r.kv, nil
	}
	kv, err := Open(ctx, r.JS, r.Streams)
	if err != nil {
		return nil, err
	}
	r.kv = kv
	return kv, nil
}
