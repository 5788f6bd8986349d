package consume

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/insightpulse/pulsehub/events"
)

// Retry turns a transient failure into a redelivery after an exponential
// backoff with jitter, until MaxAttempts deliveries have failed; then it
// marks the message exhausted and passes the error on for DeadLetter.
// Waiting happens in JetStream (a delayed Nak), not in a worker.
type Retry struct {
	MaxAttempts         int           // deliveries before giving up, the first included; default 8
	InitialInterval     time.Duration // delay after the first failure; default 1s
	MaxInterval         time.Duration // cap on any delay; default 5m
	Multiplier          float64       // growth per attempt; default 2
	RandomizationFactor float64       // jitter: delay × (1 ± factor); default 0.2
}

// WithDefaults fills zero fields with the defaults above.
func (r Retry) WithDefaults() Retry {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 8
	}
	if r.InitialInterval <= 0 {
		r.InitialInterval = time.Second
	}
	if r.MaxInterval <= 0 {
		r.MaxInterval = 5 * time.Minute
	}
	if r.Multiplier < 1 {
		r.Multiplier = 2
	}
	if r.RandomizationFactor < 0 || r.RandomizationFactor >= 1 {
		r.RandomizationFactor = 0.2
	}
	return r
}

// Delay is the wait before the delivery after failed attempt n (from 1).
func (r Retry) Delay(attempt int) time.Duration {
	r = r.WithDefaults()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = r.InitialInterval
	b.MaxInterval = r.MaxInterval
	b.Multiplier = r.Multiplier
	b.RandomizationFactor = r.RandomizationFactor
	b.MaxElapsedTime = 0
	b.Reset()
	d := b.InitialInterval
	for i := 0; i < min(max(attempt, 1), 64); i++ {
		d = b.NextBackOff()
	}
	return d
}

// Middleware implements the retry policy.
func (r Retry) Middleware(next Handler) Handler {
	r = r.WithDefaults()
	return func(ctx context.Context, m *Msg) error {
		if m.Attempt > r.MaxAttempts {
			// Earlier deliveries never settled (the process died in the
			// handler): do not run it again, give it to DeadLetter.
			m.exhausted = true
			return events.Transient(fmt.Errorf("gave up after %d deliveries that never completed (max attempts %d)", m.Attempt-1, r.MaxAttempts))
		}
		err := next(ctx, m)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if _, ok := IsDeferred(err); ok || events.IsPermanent(err) {
			return err
		}
		if m.Attempt >= r.MaxAttempts {
			m.exhausted = true
			return fmt.Errorf("attempt %d of %d: %w", m.Attempt, r.MaxAttempts, err)
		}
		delay := max(r.Delay(m.Attempt), events.RetryAfterOf(err))
		return events.RetryAfter(err, delay)
	}
}

// Recover turns a panic in the handler into a permanent error (a bug does
// not fix itself on retry; the dead letter can be requeued after the fix).
func Recover(next Handler) Handler {
	return func(ctx context.Context, m *Msg) (err error) {
		defer func() {
			if p := recover(); p != nil {
				m.Logger().Error("handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				err = events.Permanentf("handler panicked: %v", p)
			}
		}()
		return next(ctx, m)
	}
}
