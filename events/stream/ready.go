package stream

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ReadyTimeout bounds how long Ensure, EnsureBucket and EnsureConsumer
// retry while JetStream cannot answer yet: a cluster electing its meta
// leader or a stream's leader, or a server still starting (4–7 s measured
// on the 3-node cluster of deploy/nats). The caller's context can end it
// sooner.
var ReadyTimeout = 60 * time.Second

// Transient reports whether err from a JetStream API call is worth asking
// again: the client is not connected yet (a service started before its
// NATS server, or reconnecting), no server answered (no responders, a
// timeout), or JetStream said it is temporarily unavailable or the stream
// is offline. Everything else (a refused configuration, ErrIncompatible, a
// connection closed for good) is an answer.
func Transient(err error) bool {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrDisconnected) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case 10008, // JetStream system temporarily unavailable
			10118, 10194: // stream is offline
			return true
		}
		return apiErr.Code == 503
	}
	return false
}

// untilReady runs fn until it succeeds, fails with an error that is not
// Transient, ReadyTimeout passes, or ctx ends. Every path that creates
// streams, buckets or consumers goes through it, so none of them fails
// on a leader election.
func untilReady(ctx context.Context, fn func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.MaxElapsedTime = ReadyTimeout
	return backoff.Retry(func() error {
		err := fn()
		if err != nil && (!Transient(err) || ctx.Err() != nil) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx))
}
