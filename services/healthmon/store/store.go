// Package store keeps healthmon's state in JetStream: one key per target
// in KV bucket health (history kept, so `nats kv history health <target>`
// shows a target's recent past) and one event per status transition on
// health.<target>.<status> in stream HEALTH.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
)

// History is how many values per target the bucket keeps.
const History = 32

// The envelope of transition events.
const (
	EventSource = "urn:pulsehub:healthmon"
	EventType   = "dev.pulsehub.health.transition"
)

// Store writes records and transitions. The bucket is ensured on first
// use and again after a failure, so healthmon keeps probing (and reports
// NATS down) while NATS is away, and stores again when it is back.
type Store struct {
	js  jetstream.JetStream
	cfg jetstream.KeyValueConfig

	mu sync.Mutex
	kv jetstream.KeyValue
}

// New returns a Store for bucket health with the streams' replicas.
func New(js jetstream.JetStream, streams stream.Config) *Store {
	return &Store{js: js, cfg: stream.Bucket(streams, events.BucketHealth,
		"Pulse Hub health: one key per target, the latest probe; history keeps the recent past", History, 0)}
}

func (s *Store) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	kv, err := stream.EnsureBucket(ctx, s.js, s.cfg)
	if err != nil {
		return nil, err
	}
	s.kv = kv
	return kv, nil
}

// Put stores r as its target's latest value.
func (s *Store) Put(ctx context.Context, r Record) error {
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("health %s: encode: %w", r.Target, err)
	}
	if _, err := kv.Put(ctx, r.Target, b); err != nil {
		return fmt.Errorf("health %s: put: %w", r.Target, err)
	}
	return nil
}

// Delete marks a target gone (a deleted route); its history stays.
func (s *Store) Delete(ctx context.Context, target string) error {
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	if err := kv.Delete(ctx, target); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("health %s: delete: %w", target, err)
	}
	return nil
}

// Load returns every target's latest record. Values that do not decode
// are skipped: a hand-written key must not stop healthmon.
func (s *Store) Load(ctx context.Context) (map[string]Record, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return nil, err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("health: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]Record{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return out, nil
			}
			if e == nil { // every current value has been delivered
				return out, nil
			}
			var r Record
			if json.Unmarshal(e.Value(), &r) == nil && r.Status.Valid() {
				out[e.Key()] = r
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("health: load: %w", ctx.Err())
		}
	}
}

// History returns a target's stored values, oldest first; none for a
// target never stored.
func (s *Store) History(ctx context.Context, target string) ([]Record, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := kv.History(ctx, target)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("health %s: history: %w", target, err)
	}
	out := make([]Record, 0, len(entries))
	for _, e := range entries {
		var r Record
		if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// TransitionID is the event id of a transition: the same for the same
// target, status and start time, so a transition published again after a
// failed acknowledgement is stored once.
func TransitionID(t Transition) string {
	return events.StableID("health-transition", t.Target, string(t.Status), t.Since.UTC().Format(time.RFC3339Nano))
}

// Publish sends t on health.<target>.<status> and waits for JetStream to
// store it. It returns the event id, which is also the correlation id of
// the log lines about it.
func (s *Store) Publish(ctx context.Context, t Transition) (string, error) {
	subject := events.HealthSubject(t.Target, string(t.Status))
	if err := events.CheckSubject(subject); err != nil {
		return "", fmt.Errorf("publish transition of %.64q: %w", t.Target, err)
	}
	body, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("publish %s: encode: %w", subject, err)
	}
	e := events.New(ctx, EventSource, EventType, body)
	e.ID = TransitionID(t)
	if events.CorrelationID(ctx) == "" {
		e.CorrelationID = e.ID
	}
	e.Subject = t.Target
	ack, err := stream.Publish(ctx, s.js, e.Msg(subject))
	if err != nil {
		return e.ID, fmt.Errorf("publish %s: %w", subject, err)
	}
	if ack.Stream != events.StreamHealth {
		return e.ID, fmt.Errorf("publish %s: stored in stream %s, want %s", subject, ack.Stream, events.StreamHealth)
	}
	return e.ID, nil
}
