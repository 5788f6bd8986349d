package stream_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
)

func setup(t *testing.T) (context.Context, jetstream.JetStream) {
	t.Helper()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx, js
}

func TestEnsureCreatesThenChangesNothing(t *testing.T) {
	ctx, js := setup(t)
	specs := stream.Specs(stream.DefaultConfig())
	changes, err := stream.Ensure(ctx, js, specs...)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != len(stream.Names()) {
		t.Fatalf("changes = %v", changes)
	}
	for _, c := range changes {
		if c.Action != stream.Created {
			t.Errorf("%s: %s, want created", c.Stream, c.Action)
		}
	}
	again, err := stream.Ensure(ctx, js, specs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again {
		if c.Action != stream.Unchanged {
			t.Errorf("second Ensure changed %s: %v", c.Stream, c.Fields)
		}
	}
	info, err := js.Stream(ctx, events.StreamJobs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := info.CachedInfo().Config; !cfg.AllowMsgSchedules || cfg.Storage != jetstream.FileStorage || cfg.Duplicates != 24*time.Hour {
		t.Fatalf("JOBS config = %+v", cfg)
	}
}

func TestEnsureAppliesChangedMaxAgeAndKeepsMessages(t *testing.T) {
	ctx, js := setup(t)
	cfg := stream.DefaultConfig()
	if _, err := stream.Ensure(ctx, js, stream.Specs(cfg)...); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "github.issues.opened", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits[events.StreamGitHub]
	l.MaxAge = 7 * 24 * time.Hour
	cfg.Limits[events.StreamGitHub] = l
	changes, err := stream.Ensure(ctx, js, stream.Specs(cfg)...)
	if err != nil {
		t.Fatal(err)
	}
	if changes[0].Stream != events.StreamGitHub || changes[0].Action != stream.Updated || changes[0].Fields[0] != "max_age" {
		t.Fatalf("changes = %+v", changes)
	}
	s, _ := js.Stream(ctx, events.StreamGitHub)
	info, _ := s.Info(ctx)
	if info.Config.MaxAge != 7*24*time.Hour || info.State.Msgs != 1 {
		t.Fatalf("after update: max age %s, %d msgs", info.Config.MaxAge, info.State.Msgs)
	}
}

func TestEnsureRefusesIncompatibleChangeAndKeepsData(t *testing.T) {
	ctx, js := setup(t)
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamGitHub, Subjects: []string{"github.>", "extra.>"}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := js.Publish(ctx, "github.push.none", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	_, err = stream.Ensure(ctx, js, stream.Specs(stream.DefaultConfig())...)
	if !errors.Is(err, stream.ErrIncompatible) || !strings.Contains(err.Error(), "GITHUB") || !strings.Contains(err.Error(), "untouched") {
		t.Fatalf("err = %v", err)
	}
	s, err := js.Stream(ctx, events.StreamGitHub)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	if info.State.Msgs != 3 || info.Config.Storage != jetstream.MemoryStorage {
		t.Fatalf("stream changed: %+v", info.State)
	}
}

func TestEnsureReportsLimitsJetStreamRejects(t *testing.T) {
	ctx, js := setup(t)
	cfg := stream.DefaultConfig()
	if _, err := stream.Ensure(ctx, js, stream.Specs(cfg)...); err != nil {
		t.Fatal(err)
	}
	cfg.Replicas = 3 // a single server cannot hold three replicas
	_, err := stream.Ensure(ctx, js, stream.Specs(cfg)...)
	if !errors.Is(err, stream.ErrIncompatible) || !strings.Contains(err.Error(), "replicas") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnsureKeepsSubjectsAddedByHand(t *testing.T) {
	ctx, js := setup(t)
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamHealth, Subjects: []string{"health.>", "ops.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Ensure(ctx, js, stream.Specs(stream.DefaultConfig())...); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, events.StreamHealth)
	if subj := s.CachedInfo().Config.Subjects; len(subj) != 3 || !slices.Contains(subj, "ops.>") { // health.>, audit.> and ops.>
		t.Fatalf("subjects = %v", subj)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := stream.DefaultConfig()
	cfg.Replicas = 2
	cfg.Limits["NOPE"] = stream.Limits{DuplicateWindow: time.Minute}
	l := cfg.Limits[events.StreamDLQ]
	l.DuplicateWindow = 100 * 24 * time.Hour
	cfg.Limits[events.StreamDLQ] = l
	ps := cfg.Validate("streams")
	if len(ps) != 3 {
		t.Fatalf("problems = %v", ps)
	}
	if stream.DefaultConfig().Validate("streams") != nil {
		t.Fatal("defaults invalid")
	}
}

func TestEnsureConsumerKeepsDeliverPolicy(t *testing.T) {
	ctx, js := setup(t)
	if _, err := stream.Ensure(ctx, js, stream.Specs(stream.DefaultConfig())...); err != nil {
		t.Fatal(err)
	}
	o := stream.ConsumerOptions{Name: "r1", Stream: events.StreamGitHub, Subjects: []string{"github.issues.*"}, DeliverNew: true}
	if _, err := stream.EnsureConsumer(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	o.DeliverNew = false
	o.Subjects = []string{"github.issues.*", "github.push.*"}
	c, err := stream.EnsureConsumer(ctx, js, o)
	if err != nil {
		t.Fatal(err)
	}
	got := c.CachedInfo().Config
	if got.DeliverPolicy != jetstream.DeliverNewPolicy || len(got.FilterSubjects) != 2 || got.MaxDeliver != -1 || got.AckPolicy != jetstream.AckExplicitPolicy {
		t.Fatalf("consumer = %+v", got)
	}
}

func TestEnsureBucketIsIdempotent(t *testing.T) {
	ctx, js := setup(t)
	b := stream.Bucket(stream.DefaultConfig(), events.BucketHealth, "health", 32, 0)
	for i := 0; i < 2; i++ {
		kv, err := stream.EnsureBucket(ctx, js, b)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := kv.Status(ctx)
		if st.History() != 32 {
			t.Fatalf("history = %d", st.History())
		}
	}
}

func TestReplayMetadataReadsBack(t *testing.T) {
	md := stream.ReplayMetadata(1234)
	if md["pulsehub_replay_end_seq"] != "1234" || stream.ReplayEndSeq(md) != 1234 {
		t.Fatalf("metadata %v reads back as %d", md, stream.ReplayEndSeq(md))
	}
	if stream.ReplayEndSeq(nil) != 0 || stream.ReplayEndSeq(map[string]string{stream.ReplayEndSeqKey: "x"}) != 0 {
		t.Fatal("a consumer made by hand has no end")
	}
}

// A lost acknowledgement costs the consumer's ack wait: it is short, the
// loop's progress heartbeats (a third of it) keep long handlers alive.
func TestConsumersDefaultToAShortAckWait(t *testing.T) {
	c := stream.ConsumerConfig(stream.ConsumerOptions{Name: "r", Stream: "GITHUB"})
	if c.AckWait != stream.DefaultAckWait || stream.DefaultAckWait > 10*time.Second {
		t.Fatalf("ack wait %s (default %s)", c.AckWait, stream.DefaultAckWait)
	}
	if c := stream.ConsumerConfig(stream.ConsumerOptions{Name: "r", Stream: "GITHUB", AckWait: time.Minute}); c.AckWait != time.Minute {
		t.Fatalf("a route's own ack_wait: %s", c.AckWait)
	}
}
