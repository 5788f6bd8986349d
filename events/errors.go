package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Kind says what a failure means for the message that caused it.
type Kind int

const (
	// KindTransient: worth trying again later (timeouts, refused
	// connections, 5xx, 429, database concurrency errors).
	KindTransient Kind = iota
	// KindPermanent: trying again cannot help (validation errors, 4xx,
	// malformed payloads); the message goes to the DLQ at once.
	KindPermanent
)

func (k Kind) String() string {
	if k == KindPermanent {
		return "permanent"
	}
	return "transient"
}

// Error is the one error type that carries a decision about retrying.
// Handlers return it (through Permanent, Transient or RetryAfter) or return
// any other error, which Classify then decides.
type Error struct {
	Kind       Kind
	RetryAfter time.Duration // a floor for the next attempt's delay (HTTP Retry-After); 0 = policy decides
	Err        error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Kind.String() + " error"
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindPermanent, Err: err}
}

// Permanentf is Permanent(fmt.Errorf(...)).
func Permanentf(format string, args ...any) error { return Permanent(fmt.Errorf(format, args...)) }

// Transient marks err as worth retrying.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindTransient, Err: err}
}

// RetryAfter marks err as transient and asks for at least d before the next attempt.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindTransient, RetryAfter: d, Err: err}
}

// transienter is implemented by error types of packages that do not import
// this one (the Odoo client's *odoo.Fault): they say themselves whether
// retrying is worth it.
type transienter interface{ Transient() bool }

// Classify decides, in one place, whether err is transient or permanent:
//  1. an *Error anywhere in the chain decides;
//  2. else an error with a `Transient() bool` method decides;
//  3. else context deadlines, network errors and refused or reset
//     connections are transient;
//  4. anything else is transient too: an unknown failure is retried up to the
//     route's attempts and then dead-lettered, which loses nothing.
func Classify(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var t transienter
	if errors.As(err, &t) {
		if t.Transient() {
			return KindTransient
		}
		return KindPermanent
	}
	return KindTransient
}

// IsPermanent reports whether Classify(err) is KindPermanent.
func IsPermanent(err error) bool { return err != nil && Classify(err) == KindPermanent }

// retryDelayer is implemented by error types of packages that do not import
// this one (the Odoo client's *odoo.Fault) to pass on a server's Retry-After.
type retryDelayer interface{ RetryDelay() time.Duration }

// RetryAfterOf returns the delay floor an error asked for, if any: an
// *Error's RetryAfter, else a `RetryDelay() time.Duration` method's answer.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter
	}
	var r retryDelayer
	if errors.As(err, &r) {
		return r.RetryDelay()
	}
	if e != nil {
		return e.RetryAfter
	}
	return 0
}

// IsNetworkError reports whether err is a timeout or a connection failure:
// the failures every client in the hub treats as transient.
func IsNetworkError(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne)
}
