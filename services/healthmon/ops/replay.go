package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// ReplayRequest says which past events to deliver again to one route.
// Exactly one of Since, FromTime and FromSeq is set.
type ReplayRequest struct {
	Route    string
	Since    time.Duration // events stored in the last Since
	FromTime time.Time     // events stored at or after FromTime
	FromSeq  uint64        // events from this stream sequence on
	Subject  string        // narrow to this subject filter (within the route's)
	DryRun   bool          // only count them
}

// ReplayPlan is what a replay delivers (or would deliver).
type ReplayPlan struct {
	Route     string            `json:"route"`
	Stream    string            `json:"stream"`
	Consumer  string            `json:"consumer"`  // the replay consumer the route's service drains
	Filters   []string          `json:"filters"`   // subject filters
	StartSeq  uint64            `json:"start_seq"` // first sequence considered
	EndSeq    uint64            `json:"end_seq"`   // last sequence replayed (the stream's last when asked)
	Count     uint64            `json:"count"`     // messages to deliver
	Subjects  map[string]uint64 `json:"subjects,omitempty"`
	Truncated bool              `json:"subjects_truncated,omitempty"` // Subjects counts only the first maxTally messages
	DryRun    bool              `json:"dry_run"`
}

const maxTally = 100_000

// ErrReplayRunning is returned when the route already has a replay going.
var ErrReplayRunning = errors.New("a replay is already running")

// Replay delivers past events again to one route and to no other: it
// creates the route's replay consumer (stream.ReplayName) from the first
// matching sequence to the stream's current last one; the route's service
// (consume.RunRoute) picks it up, runs the same handler on each event, and
// deletes the consumer when it is drained. With DryRun nothing is
// delivered: the plan says how many messages and which subjects.
func Replay(ctx context.Context, js jetstream.JetStream, req ReplayRequest) (ReplayPlan, error) {
	route, err := findRoute(ctx, js, req.Route)
	if err != nil {
		return ReplayPlan{}, err
	}
	plan := ReplayPlan{Route: req.Route, Stream: route.Stream, Filters: route.Config.FilterSubjects, DryRun: req.DryRun}
	if route.Config.FilterSubject != "" {
		plan.Filters = []string{route.Config.FilterSubject}
	}
	if req.Subject != "" {
		if err := events.ValidateFilter(req.Subject); err != nil {
			return plan, fmt.Errorf("--subject: %w", err)
		}
		if !coveredBy(req.Subject, plan.Filters) {
			return plan, fmt.Errorf("subject %q is not among route %s's subjects %v", req.Subject, req.Route, plan.Filters)
		}
		plan.Filters = []string{req.Subject}
	}
	s, err := js.Stream(ctx, route.Stream)
	if err != nil {
		return plan, fmt.Errorf("stream %s: %w", route.Stream, err)
	}
	plan.EndSeq = s.CachedInfo().State.LastSeq
	plan.StartSeq, err = startSeq(ctx, js, route.Stream, plan.Filters, req)
	if err != nil || plan.StartSeq == 0 || plan.StartSeq > plan.EndSeq {
		return plan, err // nothing stored in that range
	}
	plan.Consumer = stream.ReplayName(req.Route)
	cfg := jetstream.ConsumerConfig{
		Durable: plan.Consumer, Description: fmt.Sprintf("replay of route %s from sequence %d", req.Route, plan.StartSeq),
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: plan.StartSeq,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: route.Config.AckWait, MaxDeliver: -1,
		MaxAckPending: route.Config.MaxAckPending, InactiveThreshold: 24 * time.Hour,
		Metadata: stream.ReplayMetadata(plan.EndSeq),
	}
	setFilters(&cfg, plan.Filters)
	if req.DryRun {
		cfg.Durable = plan.Consumer + "-dryrun-" + strings.ToLower(nuid.Next())
		cfg.InactiveThreshold = time.Minute
	}
	c, err := js.CreateConsumer(ctx, route.Stream, cfg)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return plan, fmt.Errorf("%w for route %s: wait for it to finish (hub status shows what is left) or stop it with: nats consumer rm %s %s",
			ErrReplayRunning, req.Route, route.Stream, plan.Consumer)
	}
	if err != nil {
		return plan, fmt.Errorf("create replay consumer for %s: %w", req.Route, err)
	}
	info := c.CachedInfo()
	plan.Count = info.NumPending
	if req.DryRun {
		defer func() { _ = js.DeleteConsumer(context.WithoutCancel(ctx), route.Stream, cfg.Durable) }()
		plan.Subjects, plan.Truncated, err = tally(ctx, js, route.Stream, plan)
	}
	return plan, err
}

func setFilters(cfg *jetstream.ConsumerConfig, filters []string) {
	if len(filters) == 1 {
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = filters
	}
}

// findRoute finds the durable consumer named route on the hub's streams.
func findRoute(ctx context.Context, js jetstream.JetStream, route string) (*jetstream.ConsumerInfo, error) {
	for _, name := range stream.Names() {
		c, err := js.Consumer(ctx, name, route)
		if err == nil {
			return c.CachedInfo(), nil
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("look up route %s on %s: %w", route, name, err)
		}
	}
	return nil, fmt.Errorf("no route named %q: `hub status` lists the routes (each is a durable consumer)", route)
}

// startSeq finds the first sequence to replay.
func startSeq(ctx context.Context, js jetstream.JetStream, streamName string, filters []string, req ReplayRequest) (uint64, error) {
	if req.FromSeq > 0 {
		return req.FromSeq, nil
	}
	from := req.FromTime
	if req.Since > 0 {
		from = time.Now().Add(-req.Since)
	}
	if from.IsZero() {
		return 0, errors.New("say where to start: --since DURATION, --from-time TIME or --from-seq N")
	}
	oc, err := js.OrderedConsumer(ctx, streamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &from, HeadersOnly: true})
	if err != nil {
		return 0, fmt.Errorf("find the first message after %s: %w", from.Format(time.RFC3339), err)
	}
	batch, err := oc.FetchNoWait(1)
	if err != nil {
		return 0, fmt.Errorf("find the first message after %s: %w", from.Format(time.RFC3339), err)
	}
	for m := range batch.Messages() {
		meta, err := m.Metadata()
		if err != nil {
			return 0, err
		}
		return meta.Sequence.Stream, nil
	}
	return 0, nil
}

// tally counts the planned messages per subject, reading headers only.
func tally(ctx context.Context, js jetstream.JetStream, streamName string, plan ReplayPlan) (map[string]uint64, bool, error) {
	out := map[string]uint64{}
	oc, err := js.OrderedConsumer(ctx, streamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: plan.Filters, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: plan.StartSeq, HeadersOnly: true})
	if err != nil {
		return nil, false, err
	}
	var seen uint64
	for seen < plan.Count && seen < maxTally {
		batch, err := oc.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return out, false, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil || meta.Sequence.Stream > plan.EndSeq {
				return out, false, nil
			}
			out[m.Subject()]++
			seen++
		}
		if n == 0 {
			break
		}
	}
	return out, seen < plan.Count, nil
}

// coveredBy reports whether every subject matching filter also matches one
// of filters (an empty list covers everything).
func coveredBy(filter string, filters []string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if covers(strings.Split(f, "."), strings.Split(filter, ".")) {
			return true
		}
	}
	return false
}

func covers(outer, inner []string) bool {
	for i, o := range outer {
		if o == ">" {
			return i < len(inner)
		}
		if i >= len(inner) || inner[i] == ">" {
			return false
		}
		if o != "*" && (inner[i] == "*" || o != inner[i]) {
			return false
		}
	}
	return len(inner) == len(outer)
}
