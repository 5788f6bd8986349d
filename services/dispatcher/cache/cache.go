// Package cache keeps each successful microservice answer in the KV bucket
// results (events.BucketResults) under its Idempotency-Key, for a
// configurable time, so an expensive call (OCR, an LLM) that is
// redelivered or replayed is answered from here instead of being paid for
// twice. Entries expire with the bucket's TTL.
package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultTTL is how long an answer is kept when the config says nothing.
const DefaultTTL = 24 * time.Hour

// Cache is the result cache.
type Cache struct {
	kv     jetstream.KeyValue
	js     jetstream.JetStream
	prefix string // $KV.<bucket>.
}

// Open ensures the bucket with entries kept for ttl (replicas from
// streams); changing ttl later changes it for every entry.
func Open(ctx context.Context, js jetstream.JetStream, streams stream.Config, ttl time.Duration) (*Cache, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	kv, err := stream.EnsureBucket(ctx, js, stream.Bucket(streams, events.BucketResults,
		"Pulse Hub result cache by Idempotency-Key (dispatcher)", 1, ttl))
	if err != nil {
		return nil, err
	}
	return &Cache{kv: kv, js: js, prefix: "$KV." + events.BucketResults + "."}, nil
}

// Get returns the answer stored under key, if any.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("result cache: get %s: %w", key, err)
	}
	return e.Value(), true, nil
}

// PutAsync publishes value under key without waiting for JetStream's
// acknowledgement; Wait says whether it was stored.
func (c *Cache) PutAsync(ctx context.Context, key string, value []byte) (*stream.Pending, error) {
	if err := events.ValidateSubject(c.prefix + key); err != nil {
		return nil, fmt.Errorf("result cache: put %s: %w", key, err)
	}
	m := nats.NewMsg(c.prefix + key)
	m.Data = value
	return stream.PublishAsync(ctx, c.js, m), nil
}

// Put stores value under key.
func (c *Cache) Put(ctx context.Context, key string, value []byte) error {
	if _, err := c.kv.Put(ctx, key, value); err != nil {
		return fmt.Errorf("result cache: put %s: %w", key, err)
	}
	return nil
}
