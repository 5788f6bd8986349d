package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
)

// RecordTTL is how long the github-redeliveries bucket keeps a record
// that is not written again: GitHub's retention. The reconciler removes a
// record itself once it is older than its lookback; the TTL only clears
// what a stopped reconciler left, and the delete markers.
const RecordTTL = 72 * time.Hour

// The states of a record.
const (
	statePending  = "pending"  // asked for (again) when due
	stateRefused  = "refused"  // GitHub refused to redeliver it: not asked again
	stateRejected = "rejected" // the ingester refused every attempt as malformed or too large: not asked
)

// record is a delivery GUID with no successful attempt, kept in bucket
// github-redeliveries under its GUID until an attempt succeeds or it ages
// out (schemas/github-redelivery.schema.json): the checkpoint moves on
// past it, the record remembers it.
type record struct {
	GUID        string    `json:"guid"`
	Event       string    `json:"event"`
	DeliveryID  int64     `json:"delivery_id"`           // the newest attempt known: the one asked to be redelivered
	FirstSeen   time.Time `json:"first_seen"`            // the oldest attempt known: the record ages out a lookback after it
	LastAttempt time.Time `json:"last_attempt"`          // the newest attempt's delivered_at
	StatusCode  int       `json:"status_code"`           // what the ingester answered the newest attempt (0: no answer in time)
	State       string    `json:"state"`                 // pending, refused or rejected
	Asked       int       `json:"asked"`                 // redeliveries asked for
	NextAt      time.Time `json:"next_at,omitzero"`      // not asked (again) before this time: backoff
	ErrorClass  string    `json:"error_class,omitempty"` // the last error about it (wire.ReconcilerError*)
	Error       string    `json:"error,omitempty"`
}

// Records keeps the reconciler's failed deliveries in KV bucket
// github-redeliveries: `nats kv ls github-redeliveries`, `nats kv get
// github-redeliveries <guid>`; `nats kv del` makes the reconciler forget
// one.
type Records struct {
	KV jetstream.KeyValue
}

// OpenRecords ensures the bucket (one value per key, RecordTTL) and
// returns the store on it.
func OpenRecords(ctx context.Context, js jetstream.JetStream, streams stream.Config) (*Records, error) {
	kv, err := stream.EnsureBucket(ctx, js, stream.Bucket(streams, events.BucketGitHubRedeliveries,
		"ingester: GitHub deliveries the reconciler has yet to see succeed, by delivery GUID", 1, RecordTTL))
	if err != nil {
		return nil, err
	}
	return &Records{KV: kv}, nil
}

// all reads every record, by GUID.
func (s *Records) all(ctx context.Context) (map[string]*record, error) {
	w, err := s.KV.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("%s: watch: %w", events.BucketGitHubRedeliveries, err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]*record{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("%s: the watch stopped while reading", events.BucketGitHubRedeliveries)
			}
			if e == nil { // every current value has been read
				return out, nil
			}
			var rec record
			if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.GUID == "" {
				continue // not a record: leave it to the TTL
			}
			out[rec.GUID] = &rec
		}
	}
}

func (s *Records) put(ctx context.Context, rec *record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%s %s: encode: %w", events.BucketGitHubRedeliveries, rec.GUID, err)
	}
	if _, err := s.KV.Put(ctx, recordKey(rec.GUID), b); err != nil {
		return fmt.Errorf("%s %s: put: %w", events.BucketGitHubRedeliveries, rec.GUID, err)
	}
	return nil
}

func (s *Records) remove(ctx context.Context, guid string) error {
	if err := s.KV.Delete(ctx, recordKey(guid)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%s %s: delete: %w", events.BucketGitHubRedeliveries, guid, err)
	}
	return nil
}

var kvKey = regexp.MustCompile(`^[-_=A-Za-z0-9]{1,200}$`)

// recordKey is the GUID itself (GitHub's are UUIDs), or a digest of one
// that is not a valid key.
func recordKey(guid string) string {
	if kvKey.MatchString(guid) {
		return guid
	}
	sum := sha256.Sum256([]byte(guid))
	return "sha256-" + hex.EncodeToString(sum[:16])
}
