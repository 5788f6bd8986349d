// Package checkpoint keeps where the ingester's background loops got to
// (the Odoo poll per source, the GitHub reconciler) as JSON values in the
// JetStream key-value bucket events.BucketCheckpoints, so a restart, or
// another replica, resumes instead of rescanning. `nats kv get checkpoints
// odoo-poll.<source>` shows one.
package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
)

// Store reads and writes checkpoints.
type Store struct {
	KV jetstream.KeyValue
}

// Open ensures the checkpoints bucket (5 values of history per key, so an
// operator can see how a checkpoint moved) and returns a Store on it.
func Open(ctx context.Context, js jetstream.JetStream, streams stream.Config) (*Store, error) {
	kv, err := stream.EnsureBucket(ctx, js, stream.Bucket(streams, events.BucketCheckpoints,
		"ingester checkpoints: Odoo poll per source, GitHub reconciler", 5, 0))
	if err != nil {
		return nil, err
	}
	return &Store{KV: kv}, nil
}

// Load decodes the checkpoint at key into v. found is false when there is
// none yet (v is then untouched).
func (s *Store) Load(ctx context.Context, key string, v any) (found bool, err error) {
	e, err := s.KV.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checkpoint %s: get: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return false, fmt.Errorf("checkpoint %s: decode: %w", key, err)
	}
	return true, nil
}

// Save writes v as the checkpoint at key.
func (s *Store) Save(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("checkpoint %s: encode: %w", key, err)
	}
	if _, err := s.KV.Put(ctx, key, b); err != nil {
		return fmt.Errorf("checkpoint %s: put: %w", key, err)
	}
	return nil
}
