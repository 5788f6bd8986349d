package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Action says what Ensure did to one stream.
type Action string

const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
)

// Change reports what Ensure did to one stream.
type Change struct {
	Stream string
	Action Action
	Fields []string // the settings that changed, for Updated
}

// ErrIncompatible is wrapped when a stream exists with settings JetStream
// cannot change in place. Ensure then leaves the stream and its messages as
// they are.
var ErrIncompatible = errors.New("incompatible stream change")

// Ensure creates each missing stream and applies changed limits to the
// existing ones. Running it again with the same specs changes nothing.
// While JetStream cannot answer (a leader election) it retries, for up to
// ReadyTimeout.
// Subjects an operator added to a stream by hand are kept. A change of
// storage or retention is refused with ErrIncompatible: making it would
// mean deleting the stream.
func Ensure(ctx context.Context, js jetstream.JetStream, specs ...jetstream.StreamConfig) ([]Change, error) {
	var changes []Change
	for _, want := range specs {
		var c Change
		err := untilReady(ctx, func() (err error) {
			c, err = ensureOne(ctx, js, want)
			return err
		})
		if err != nil {
			return changes, err
		}
		changes = append(changes, c)
	}
	return changes, nil
}

func ensureOne(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (Change, error) {
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := js.CreateStream(ctx, want); err != nil {
			return Change{}, fmt.Errorf("create stream %s: %w", want.Name, err)
		}
		return Change{Stream: want.Name, Action: Created}, nil
	}
	if err != nil {
		return Change{}, fmt.Errorf("look up stream %s: %w", want.Name, err)
	}
	have := s.CachedInfo().Config
	if have.Storage != want.Storage || have.Retention != want.Retention {
		return Change{}, fmt.Errorf("%w: stream %s has storage %s and retention %s, the hub wants %s and %s; "+
			"the stream and its messages are left untouched: move them to a new stream by hand (nats stream backup/restore) or change the config back",
			ErrIncompatible, want.Name, have.Storage, have.Retention, want.Storage, want.Retention)
	}
	next, fields := merge(have, want)
	if len(fields) == 0 {
		return Change{Stream: want.Name, Action: Unchanged}, nil
	}
	if _, err := js.UpdateStream(ctx, next); err != nil {
		return Change{}, fmt.Errorf("%w: update stream %s (%v): %w; the stream and its messages are left untouched",
			ErrIncompatible, want.Name, fields, err)
	}
	return Change{Stream: want.Name, Action: Updated, Fields: fields}, nil
}

// merge applies the hub's settings onto the existing configuration and
// lists what differs. Everything the hub does not manage is kept.
func merge(have, want jetstream.StreamConfig) (jetstream.StreamConfig, []string) {
	next := have
	var fields []string
	set := func(name string, differ bool, apply func()) {
		if differ {
			fields = append(fields, name)
			apply()
		}
	}
	subjects := append([]string(nil), have.Subjects...)
	for _, s := range want.Subjects {
		if !slices.Contains(subjects, s) {
			subjects = append(subjects, s)
		}
	}
	set("subjects", len(subjects) != len(have.Subjects), func() { next.Subjects = subjects })
	set("description", have.Description != want.Description, func() { next.Description = want.Description })
	set("max_age", have.MaxAge != want.MaxAge, func() { next.MaxAge = want.MaxAge })
	set("max_bytes", have.MaxBytes != want.MaxBytes, func() { next.MaxBytes = want.MaxBytes })
	set("max_msgs", have.MaxMsgs != want.MaxMsgs, func() { next.MaxMsgs = want.MaxMsgs })
	set("duplicate_window", have.Duplicates != want.Duplicates, func() { next.Duplicates = want.Duplicates })
	set("replicas", have.Replicas != want.Replicas, func() { next.Replicas = want.Replicas })
	set("discard", have.Discard != want.Discard, func() { next.Discard = want.Discard })
	set("allow_msg_schedules", want.AllowMsgSchedules && !have.AllowMsgSchedules, func() { next.AllowMsgSchedules = true })
	return next, fields
}

// EnsureBucket creates the key-value bucket or updates its settings,
// retrying through a leader election like Ensure.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := untilReady(ctx, func() (err error) {
		kv, err = js.CreateOrUpdateKeyValue(ctx, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// DefaultAckWait is how long JetStream waits for a message's ack or
// progress before delivering it again. The consume loop sends progress
// (InProgress) every third of it while a handler runs, so a long call is
// never redelivered; what it bounds is the cost of a message whose
// handler vanished — pulled by a process that died, or lost on its way
// through a server that died: it comes back after this long (it was 30 s,
// which made a leader change stall a route's drain by 30 s). Acks lost
// with a server or a consumer leader are sent again by the consume loop
// once its consumer answers (events/consume recentAcks).
const DefaultAckWait = 10 * time.Second

// ConsumerOptions describe a route's durable consumer.
type ConsumerOptions struct {
	Name          string        // the route's name: `nats consumer info <stream> <name>` shows its lag
	Stream        string        // the stream it reads
	Subjects      []string      // filter subjects; empty = the whole stream
	Description   string        // shown by `nats consumer info`
	AckWait       time.Duration // redelivery after this long without an ack or progress (default DefaultAckWait)
	MaxAckPending int           // the most unacknowledged messages at once (default 1000)
	DeliverNew    bool          // start with messages stored after creation instead of the whole stream
}

// ConsumerConfig builds the durable pull consumer for o: explicit acks,
// unlimited deliveries (the consume loop's dead-letter middleware decides
// when to stop, so a message is never dropped silently by MaxDeliver).
func ConsumerConfig(o ConsumerOptions) jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{
		Durable:       o.Name,
		Description:   o.Description,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: o.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 1000
	}
	if o.DeliverNew {
		c.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	switch len(o.Subjects) {
	case 0:
	case 1:
		c.FilterSubject = o.Subjects[0]
	default:
		c.FilterSubjects = append([]string(nil), o.Subjects...)
	}
	return c
}

// EnsureConsumer creates the route's consumer or updates it. Where it
// starts reading cannot change once it exists, so the existing consumer's
// deliver policy is kept. It retries through a leader election like
// Ensure.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, o ConsumerOptions) (jetstream.Consumer, error) {
	var c jetstream.Consumer
	err := untilReady(ctx, func() (err error) {
		c, err = ensureConsumer(ctx, js, o)
		return err
	})
	return c, err
}

func ensureConsumer(ctx context.Context, js jetstream.JetStream, o ConsumerOptions) (jetstream.Consumer, error) {
	want := ConsumerConfig(o)
	if c, err := js.Consumer(ctx, o.Stream, o.Name); err == nil {
		have := c.CachedInfo().Config
		want.DeliverPolicy, want.OptStartSeq, want.OptStartTime = have.DeliverPolicy, have.OptStartSeq, have.OptStartTime
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("look up consumer %s on %s: %w", o.Name, o.Stream, err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, o.Stream, want)
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s on %s: %w", o.Name, o.Stream, err)
	}
	return c, nil
}
