// Package jobstate keeps where each job stands in the KV bucket jobs
// (events.BucketJobs), keyed by job id: the hub's queue_job job list. A
// record goes pending (or scheduled) → started → done, or → failed →
// started … → dead; see schemas/job-state.schema.json.
//
// Retention: a finished record (done or dead) is written with a per-message
// TTL (nats-server 2.11+ Nats-TTL, allowed by the bucket's LimitMarkerTTL)
// and as a roll-up of its key, which drops the job's earlier revisions;
// the server deletes it when the TTL runs out (queue_job's auto-vacuum),
// leaving a delete marker that expires in turn. Records of unfinished
// jobs never expire. No sweep runs.
package jobstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// State is where a job stands.
type State string

// The states of a job (queue_job's).
const (
	Pending          State = "pending"           // stored, waiting for a worker
	Scheduled        State = "scheduled"         // waiting for its eta
	Started          State = "started"           // being called
	Done             State = "done"              // answered, result published
	Failed           State = "failed"            // the last attempt failed, a retry is due
	Dead             State = "dead"              // no more attempts; the request is in the DLQ
	WaitDependencies State = "wait_dependencies" // a graph node whose parents are not all done
	Cancelled        State = "cancelled"         // cancelled before it ran; a delivery of it is skipped
)

// States lists every state.
var States = []State{Pending, Scheduled, Started, Done, Failed, Dead, WaitDependencies, Cancelled}

// Finished reports whether s is final (done, dead or cancelled).
func (s State) Finished() bool { return s == Done || s == Dead || s == Cancelled }

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Record is the value of one key (schemas/job-state.schema.json).
type Record struct {
	ID             string    `json:"id"`
	Service        string    `json:"service"`
	Task           string    `json:"task"`
	State          State     `json:"state"`
	Attempts       int       `json:"attempts"`
	MaxAttempts    int       `json:"max_attempts,omitempty"`
	LastError      string    `json:"last_error,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	ETA            time.Time `json:"eta,omitzero"`
	StartedAt      time.Time `json:"started_at,omitzero"`
	DoneAt         time.Time `json:"done_at,omitzero"`
	Description    string    `json:"description,omitempty"`
	IdentityKey    string    `json:"identity_key,omitempty"`
	RequestSubject string    `json:"request_subject,omitempty"`
	RequestSeq     uint64    `json:"request_seq,omitempty"`
	ResultSubject  string    `json:"result_subject,omitempty"`
	ResultSeq      uint64    `json:"result_seq,omitempty"`
	Graph          string    `json:"graph,omitempty"` // the graph the job is a node of (package graph)
	Node           string    `json:"node,omitempty"`  // its node id in that graph
}

// ErrNotFound is returned for a job id the bucket does not hold.
var ErrNotFound = errors.New("job not found")

// History is how many revisions of a record the bucket keeps while the
// job runs (`nats kv history jobs <id>` is its log).
const History = 10

// markerTTL is how long the delete marker of an expired record stays: at
// most an hour, and no longer than the retention, since the server raises
// every message TTL to at least the marker TTL.
func markerTTL(retention time.Duration) time.Duration {
	return min(max(retention, time.Second), time.Hour)
}

// maxLastError caps the stored error text.
const maxLastError = 4096

// Store reads and writes job records.
type Store struct {
	kv        jetstream.KeyValue
	js        jetstream.JetStream
	retention time.Duration
	prefix    string // $KV.<bucket>.
}

// Open ensures the bucket (replicas from streams) and returns a store
// whose finished records expire after retention (0: never).
func Open(ctx context.Context, js jetstream.JetStream, streams stream.Config, retention time.Duration) (*Store, error) {
	cfg := stream.Bucket(streams, events.BucketJobs, "Pulse Hub job states (dispatcher)", History, 0)
	cfg.LimitMarkerTTL = markerTTL(retention)
	kv, err := stream.EnsureBucket(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	return &Store{kv: kv, js: js, retention: retention, prefix: "$KV." + events.BucketJobs + "."}, nil
}

// Bind returns a store on the existing bucket, for operator commands. It
// wraps jetstream.ErrBucketNotFound when no dispatcher has created it yet.
func Bind(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, events.BucketJobs)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", events.BucketJobs, err)
	}
	return &Store{kv: kv, js: js, prefix: "$KV." + events.BucketJobs + "."}, nil
}

// Get returns the record of id.
func (s *Store) Get(ctx context.Context, id string) (Record, error) {
	if !validKey(id) {
		return Record{}, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("job %s: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Record{}, fmt.Errorf("job %s: stored value is not a job state: %w", id, err)
	}
	return r, nil
}

// Create stores r unless a record of r.ID exists (written by a worker that
// was quicker); it reports whether it stored it.
func (s *Store) Create(ctx context.Context, r Record) (bool, error) {
	b, err := s.encode(&r)
	if err != nil {
		return false, err
	}
	if _, err := s.kv.Create(ctx, r.ID, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil
		}
		return false, fmt.Errorf("job %s: create record: %w", r.ID, err)
	}
	return true, nil
}

// Put writes r as the job's latest state. A finished record replaces the
// job's history and expires after the store's retention. It is PutAsync
// waited for: one publish path (stream.PublishAsync).
func (s *Store) Put(ctx context.Context, r Record) error {
	p, err := s.PutAsync(ctx, r, false)
	if err != nil {
		return err
	}
	if _, err := p.Wait(ctx); err != nil {
		return fmt.Errorf("job %s: write state %s: %w", r.ID, r.State, err)
	}
	return nil
}

// PutAsync is Put without waiting for JetStream's acknowledgement: the
// write is on its way when it returns, and Wait says whether it was
// stored. With replace, the write drops the key's earlier revisions as a
// finished record does: the dispatcher replaces the pending record
// Enqueue wrote with the first attempt's, so that the roll-up of the
// final write only has the revisions of the job's own attempts to drop,
// which lie close together in the bucket's stream.
func (s *Store) PutAsync(ctx context.Context, r Record, replace bool) (*stream.Pending, error) {
	m, opts, err := s.msg(r, replace)
	if err != nil {
		return nil, err
	}
	return stream.PublishAsync(ctx, s.js, m, opts...), nil
}

// msg is the write of r: a roll-up of the key when r is finished (with
// the retention as its TTL) or when replace is set.
func (s *Store) msg(r Record, replace bool) (*nats.Msg, []jetstream.PublishOpt, error) {
	b, err := s.encode(&r)
	if err != nil {
		return nil, nil, err
	}
	m := nats.NewMsg(s.prefix + r.ID)
	m.Data = b
	var opts []jetstream.PublishOpt
	if replace || r.State.Finished() {
		m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	}
	if r.State.Finished() && s.retention > 0 {
		opts = append(opts, jetstream.WithMsgTTL(s.retention))
	}
	return m, opts, nil
}

func (s *Store) encode(r *Record) ([]byte, error) {
	if !validKey(r.ID) {
		return nil, fmt.Errorf("job id %q cannot be a key of bucket %s", r.ID, events.BucketJobs)
	}
	r.UpdatedAt = time.Now().UTC()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = r.UpdatedAt
	}
	// Scrubbed here, where every record is written: `hub jobs show` prints
	// it, and an error may quote a service that echoed its credentials.
	r.LastError = clip(config.Scrub(r.LastError), maxLastError)
	return json.Marshal(r)
}

// Filter selects records for List; zero fields select everything.
type Filter struct {
	State   State
	Service string
	Graph   string // only the nodes of this graph (their keys are <graph>.<node>)
	Limit   int    // the most records returned (newest first); 0 = all
}

// List returns the records that match f, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]Record, error) {
	keys := ">"
	if f.Graph != "" {
		if !validKey(f.Graph) {
			return nil, fmt.Errorf("graph %q: %w", f.Graph, ErrNotFound)
		}
		keys = f.Graph + ".*"
	}
	w, err := s.kv.Watch(ctx, keys, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list bucket %s: %w", events.BucketJobs, err)
	}
	defer func() { _ = w.Stop() }()
	var out []Record
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list bucket %s: %w", events.BucketJobs, ctx.Err())
		case e := <-w.Updates():
			if e == nil { // every current value delivered
				slices.SortFunc(out, func(a, b Record) int {
					if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
						return c
					}
					return strings.Compare(a.ID, b.ID)
				})
				if f.Limit > 0 && len(out) > f.Limit {
					out = out[:f.Limit]
				}
				return out, nil
			}
			var r Record
			if json.Unmarshal(e.Value(), &r) != nil {
				continue // not a job state: someone wrote the bucket by hand
			}
			if (f.State == "" || r.State == f.State) && (f.Service == "" || r.Service == f.Service) && (f.Graph == "" || r.Graph == f.Graph) {
				out = append(out, r)
			}
		}
	}
}

// ValidID reports whether id can be a job id: a key of bucket jobs of at
// most events.MaxIDLen bytes. A job id is its message's ce-id, which a
// message published by hand may set to anything: a longer key would make
// a subject ($KV.jobs.<id>, and the direct get's) the server may refuse.
func ValidID(id string) bool { return validKey(id) }

// validKey is the KV key rule (letters, digits and -_=./, no leading or
// trailing dot) within events.MaxIDLen.
func validKey(k string) bool {
	if k == "" || len(k) > events.MaxIDLen || k[0] == '.' || k[len(k)-1] == '.' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_=./", c) >= 0) {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
