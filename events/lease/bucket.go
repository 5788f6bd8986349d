package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
)

// markerTTL is how long the bucket keeps the marker of an expired lease:
// long enough for every waiting replica's watch to see it.
const markerTTL = time.Minute

// BucketConfig is the leases bucket: one value per key (no history: a
// renewal every few seconds would only push the useful past out), and
// per-key TTLs with their expiry markers.
func BucketConfig(streams stream.Config) jetstream.KeyValueConfig {
	c := stream.Bucket(streams, events.BucketLeases,
		"Pulse Hub leases: which replica runs each singleton job (nats kv get leases <key>)", 1, 0)
	c.LimitMarkerTTL = markerTTL
	return c
}

// Open ensures the leases bucket and returns it. It fails on a server
// older than 2.11, which has no per-key TTL.
func Open(ctx context.Context, js jetstream.JetStream, streams stream.Config) (jetstream.KeyValue, error) {
	kv, err := stream.EnsureBucket(ctx, js, BucketConfig(streams))
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	return kv, nil
}

// Current returns who holds the lease key now; found is false when nobody
// does (never taken, released, or expired).
func Current(ctx context.Context, js jetstream.JetStream, key string) (rec Record, found bool, err error) {
	kv, err := js.KeyValue(ctx, events.BucketLeases)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("lease %s: %w", key, err)
	}
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("lease %s: get: %w", key, err)
	}
	rec, err = decode(key, e.Value())
	return rec, err == nil, err
}

func decode(key string, b []byte) (Record, error) {
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, fmt.Errorf("lease %s: value is not a lease record: %w", key, err)
	}
	return rec, nil
}
