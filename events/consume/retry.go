package consume

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/insightpulse/pulsehub/events"
)

// Retry turns a failure into a redelivery after a wait, until MaxAttempts
// deliveries have failed; then it marks the message exhausted and passes
// the error on for DeadLetter. Waiting happens in JetStream (a delayed
// Nak), not in a worker. A Defer and a shutdown pass through untouched.
//
// With no hooks set, every error that is not permanent is retried, after
// an exponential backoff with jitter (Backoff) or the wait the error asks
// for (events.RetryAfterOf, e.g. a Retry-After), whichever is longer; a
// permanent error goes on to DeadLetter at once. The hooks, in the spirit
// of Watermill's retry middleware, change that per message, so a service
// configures its policy here rather than computing delays around it:
//
//   - ShouldRetry decides whether a failure is retried at all;
//   - Delay gives the wait before the next delivery;
//   - OnRetryHook is told of every retry decided.
//
// A service whose limits differ per message (the dispatcher's jobs carry
// max_retries and a retry_pattern) sets MaxAttempts and the hooks on a
// Retry made for that message.
type Retry struct {
	MaxAttempts         int           // deliveries before giving up, the first included; default 8
	InitialInterval     time.Duration // delay after the first failure; default 1s
	MaxInterval         time.Duration // cap on any delay; default 5m
	Multiplier          float64       // growth per attempt; default 2
	RandomizationFactor float64       // jitter: delay × (1 ± factor); default 0.2

	// ShouldRetry reports whether the failed delivery of m may be retried.
	// Nil retries every error that is not permanent (events.IsPermanent).
	// False gives the message up now: a permanent error goes on as it is,
	// any other is marked exhausted; either way DeadLetter stores it. True
	// retries even a permanent error, within MaxAttempts.
	ShouldRetry func(m *Msg, err error) bool

	// Delay gives the wait before the delivery that follows failed attempt
	// n (from 1) of m. Its answer is used as it is: a hook that honours the
	// error's own wait reads events.RetryAfterOf(err). Nil, or ok false,
	// waits the default: max(Backoff(n), events.RetryAfterOf(err)).
	Delay func(m *Msg, err error, attempt int) (delay time.Duration, ok bool)

	// OnRetryHook is called when a retry is decided, with the attempt that
	// failed and the wait before the next delivery. It is not called for a
	// message given up, a success, a Defer or a shutdown.
	OnRetryHook func(m *Msg, attempt int, delay time.Duration)
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

// Backoff is the exponential backoff's wait before the delivery after
// failed attempt n (from 1).
func (r Retry) Backoff(attempt int) time.Duration {
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
		if _, ok := IsDeferred(err); ok {
			return err
		}
		permanent := events.IsPermanent(err)
		retry := !permanent
		if r.ShouldRetry != nil {
			retry = r.ShouldRetry(m, err)
		}
		switch {
		case !retry && permanent:
			return err
		case !retry:
			m.exhausted = true
			return fmt.Errorf("attempt %d of %d, not retried: %w", m.Attempt, r.MaxAttempts, err)
		case m.Attempt >= r.MaxAttempts:
			m.exhausted = true
			return fmt.Errorf("attempt %d of %d: %w", m.Attempt, r.MaxAttempts, err)
		}
		delay, ok := time.Duration(0), false
		if r.Delay != nil {
			delay, ok = r.Delay(m, err, m.Attempt)
		}
		if !ok {
			delay = max(r.Backoff(m.Attempt), events.RetryAfterOf(err))
		}
		delay = max(delay, 0)
		if r.OnRetryHook != nil {
			r.OnRetryHook(m, m.Attempt, delay)
		}
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
