package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// grant is a lease just acquired.
type grant struct {
	rev      uint64    // the key's revision we wrote
	sent     time.Time // when that write was sent: the holder's deadline counts from here
	acquired time.Time // when this holder took the lease
}

// heldError says another holder has the lease.
type heldError struct{ rec Record }

func (e *heldError) Error() string { return fmt.Sprintf("lease held by %q", e.rec.Holder) }

// errNotOurs is a renewal that found the key written by someone else (a
// replica that took the lease after it expired, an operator's put) or
// gone.
var errNotOurs = errors.New("the lease's key was written by someone else or is gone")

// acquire takes the lease when it is free, or back when it is still ours
// (a write whose answer was lost; a lease given up while NATS was away
// that the server has not expired yet).
func (r *runner) acquire(ctx context.Context) (grant, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opTimeout())
	defer cancel()
	kv, err := r.bucket(ctx)
	if err != nil {
		return grant{}, err
	}
	now := time.Now()
	rev, err := kv.Create(ctx, r.Key, r.value(now, now), jetstream.KeyTTL(r.TTL))
	if err == nil {
		return grant{rev: rev, sent: now, acquired: now}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return grant{}, fmt.Errorf("lease %s: create: %w", r.Key, err)
	}
	e, err := kv.Get(ctx, r.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return grant{}, &heldError{} // it expired just now: the watch sees it gone
	}
	if err != nil {
		return grant{}, fmt.Errorf("lease %s: get: %w", r.Key, err)
	}
	rec, err := decode(r.Key, e.Value())
	if err != nil {
		return grant{}, &heldError{rec: rec}
	}
	acquired := rec.AcquiredAt
	if rec.Token != r.token {
		if !r.predecessor(rec) {
			return grant{}, &heldError{rec: rec}
		}
		// This replica's previous run, killed or crashed before it could
		// release: taken over now rather than when its TTL runs out.
		acquired = time.Now()
		r.log.Info("lease taken over from this replica's previous run (it stopped without releasing it)",
			"previous_run", rec.Token, "renewed_at", rec.RenewedAt)
	}
	sent := time.Now()
	if rev, err = r.write(ctx, e.Revision(), acquired, sent); err != nil {
		return grant{}, fmt.Errorf("lease %s: take back: %w", r.Key, err)
	}
	return grant{rev: rev, sent: sent, acquired: acquired}, nil
}

// predecessor reports whether rec was written by an earlier run of this
// replica that is gone: the same holder name (DefaultHolder is the host
// name and pid, which a restarted container keeps: its host name, pid 1)
// and a token of no Run still running in this process. Two live
// processes with one holder name (a misconfiguration) take the lease
// from each other at most once: the one that loses it that way never
// takes one over again (see twin).
func (r *runner) predecessor(rec Record) bool {
	if r.twin || rec.Holder != r.Holder {
		return false
	}
	_, live := running.Load(rec.Token)
	return !live
}

// hold runs fn and renews the lease until fn returns (finished: the lease
// is released and fn's error returned), ctx is done (finished, nil), or
// the lease is lost (not finished: fn was cancelled and has returned).
func (r *runner) hold(ctx context.Context, g grant, fn func(context.Context) error) (finished bool, err error) {
	r.Metrics.acquired(r.Key)
	r.log.Info("lease acquired: running its work", "ttl", r.TTL.String(), "revision", g.rev)
	work, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	done := make(chan error, 1)
	go func() { done <- fn(work) }()

	keep := r.TTL - r.TTL/3 // stop a third of the TTL before the server could expire the key
	rev, deadline := g.rev, g.sent.Add(keep)
	next := time.NewTimer(r.TTL / 3)
	defer next.Stop()
	for {
		select {
		case err := <-done:
			r.release(ctx, rev)
			if ctx.Err() != nil {
				return true, nil
			}
			return true, err
		case <-ctx.Done():
			stop(ctx.Err())
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				r.log.Info("lease work ended with an error on shutdown", "error", err.Error())
			}
			r.release(ctx, rev)
			return true, nil
		case <-next.C:
			sent := time.Now()
			rctx, cancel := context.WithDeadline(ctx, deadline)
			nrev, err := r.renew(rctx, rev, g.acquired)
			cancel()
			switch {
			case err == nil:
				rev, deadline = nrev, sent.Add(keep)
				next.Reset(r.TTL / 3)
			case ctx.Err() != nil:
				// Shutting down: the ctx.Done case releases.
			case errors.Is(err, errNotOurs) || !time.Now().Before(deadline):
				r.lose(stop, done, err)
				return false, nil
			default:
				r.log.Warn("lease not renewed: trying again", "error", err.Error(), "lost_in", time.Until(deadline).String())
				next.Reset(min(r.TTL/10, time.Until(deadline)))
			}
		}
	}
}

// lose stops the work and waits for it to return.
func (r *runner) lose(stop context.CancelCauseFunc, done <-chan error, why error) {
	stop(fmt.Errorf("lease %s lost: %w", r.Key, why))
	err := <-done
	r.Metrics.lost(r.Key)
	args := []any{"reason", why.Error()}
	if err != nil && !errors.Is(err, context.Canceled) {
		args = append(args, "work_error", err.Error())
	}
	r.log.Warn("lease lost: its work was stopped; contending again", args...)
}

// renew writes the lease again at rev. A revision that moved on is still
// ours when its value carries our token (the answer to an earlier renewal
// was lost): then it renews at that revision.
func (r *runner) renew(ctx context.Context, rev uint64, acquired time.Time) (uint64, error) {
	next, err := r.write(ctx, rev, acquired, time.Now())
	if !wrongRevision(err) {
		return next, err
	}
	e, gerr := r.kv.Get(ctx, r.Key)
	if errors.Is(gerr, jetstream.ErrKeyNotFound) {
		return 0, errNotOurs
	}
	if gerr != nil {
		return 0, fmt.Errorf("lease %s: get: %w", r.Key, gerr)
	}
	rec, derr := decode(r.Key, e.Value())
	if derr != nil || rec.Token != r.token {
		if derr == nil && rec.Holder == r.Holder && !r.twin {
			r.twin = true
			r.log.Warn("another process holds this lease under the same holder name: this one waits for it to expire from now on",
				"holder", rec.Holder)
		}
		return 0, errNotOurs
	}
	return r.write(ctx, e.Revision(), acquired, time.Now())
}

// write stores the lease at revision rev with a fresh TTL. It is the
// publish kv.Update makes, plus the TTL header: the KV API sets a key's
// TTL only on Create, and an update without one would never expire. The
// subject is the bucket's own ($KV.<bucket>.<key>): a JetStream domain or
// API prefix, which the hub does not use, would need the KV's prefix.
func (r *runner) write(ctx context.Context, rev uint64, acquired, now time.Time) (uint64, error) {
	m := &nats.Msg{Subject: "$KV." + r.kv.Bucket() + "." + r.Key, Data: r.value(acquired, now)}
	ack, err := r.JS.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(r.TTL))
	if err != nil {
		return 0, fmt.Errorf("lease %s: renew at revision %d: %w", r.Key, rev, err)
	}
	return ack.Sequence, nil
}

// release deletes the key at our revision, so a waiting replica takes
// over at once instead of after the TTL.
func (r *runner) release(ctx context.Context, rev uint64) {
	r.Metrics.idle(r.Key)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opTimeout())
	defer cancel()
	if err := r.kv.Delete(ctx, r.Key, jetstream.LastRevision(rev)); err != nil {
		r.log.Info("lease not released: another replica takes over when it expires", "expires_in", r.TTL.String(), "error", err.Error())
		return
	}
	r.log.Info("lease released")
}

// value is the lease's record as stored.
func (r *runner) value(acquired, renewed time.Time) []byte {
	b, _ := json.Marshal(Record{Holder: r.Holder, Token: r.token, TTL: r.TTL.String(), AcquiredAt: acquired.UTC(), RenewedAt: renewed.UTC()})
	return b
}

// opTimeout bounds one request to NATS.
func (r *runner) opTimeout() time.Duration { return r.TTL / 3 }

// wrongRevision is JetStream refusing a write because the key's last
// revision is another (code 10071; 10164 on a replicated stream).
func wrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
