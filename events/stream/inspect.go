package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/nats-io/nats.go/jetstream"
)

// ReplaySuffix ends the name of the consumer `hub replay` creates next to
// a route's own: the route's service runs it until it is drained, then
// deletes it (see consume.RunRoute). Route names may not end with it.
const ReplaySuffix = "-replay"

// ReplayEndSeqKey is the replay consumer's metadata key holding the last
// stream sequence to replay; later messages are live traffic the route's
// own consumer handles, so the replay skips them.
const ReplayEndSeqKey = "pulsehub_replay_end_seq"

// ReplayMetadata is the metadata of a replay consumer that ends at
// stream sequence end (`hub replay` writes it).
func ReplayMetadata(end uint64) map[string]string {
	return map[string]string{ReplayEndSeqKey: strconv.FormatUint(end, 10)}
}

// ReplayEndSeq reads the last sequence to replay from a replay consumer's
// metadata (the route's service reads it); 0 when it has none, as when an
// operator made the consumer with `nats consumer add`: then it replays to
// the end.
func ReplayEndSeq(metadata map[string]string) uint64 {
	end, _ := strconv.ParseUint(metadata[ReplayEndSeqKey], 10, 64)
	return end
}

// ReplayName is the replay consumer of route.
func ReplayName(route string) string { return route + ReplaySuffix }

// RouteInfo is the state of one route's durable consumer.
type RouteInfo struct {
	Route       string    `json:"route"`
	Stream      string    `json:"stream"`
	Subjects    []string  `json:"subjects"`
	Pending     uint64    `json:"pending"`      // stored, not yet delivered
	AckPending  int       `json:"ack_pending"`  // delivered, awaiting ack
	Redelivered int       `json:"redelivered"`  // delivered more than once, awaiting ack
	Waiting     int       `json:"waiting"`      // pull requests waiting (a running service)
	LastActive  time.Time `json:"last_active"`  // last delivery
	Delivered   uint64    `json:"delivered"`    // the last stream sequence delivered: moving means a service is taking messages
	Acked       uint64    `json:"acked"`        // the consumer sequence of the ack floor: grows by one per delivery settled (the console's throughput)
	DLQDepth    uint64    `json:"dlq_depth"`    // dead letters of this route
	Replaying   bool      `json:"replaying"`    // a replay consumer exists
	ReplayLeft  uint64    `json:"replay_left"`  // messages the replay still has to deliver
	ReplayStart uint64    `json:"replay_start"` // first sequence of the replay

	LastDeadLetterTraceID string `json:"last_dead_letter_trace_id,omitempty"` // the trace of the route's latest dead letter (its traceparent); "" when none
}

// Routes lists the durable consumers on the hub's streams (replay
// consumers are folded into their route), each with its DLQ depth.
func Routes(ctx context.Context, js jetstream.JetStream) ([]RouteInfo, error) {
	dlq, err := DLQDepths(ctx, js)
	if err != nil {
		return nil, err
	}
	var out []RouteInfo
	replays := map[string]*jetstream.ConsumerInfo{}
	for _, name := range Names() {
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		lister := s.ListConsumers(ctx)
		for ci := range lister.Info() {
			if ci.Config.Durable == "" {
				continue
			}
			if strings.HasSuffix(ci.Name, ReplaySuffix) {
				replays[strings.TrimSuffix(ci.Name, ReplaySuffix)] = ci
				continue
			}
			out = append(out, routeInfo(ci, dlq[ci.Name]))
		}
		if err := lister.Err(); err != nil {
			return nil, fmt.Errorf("list consumers of %s: %w", name, err)
		}
	}
	for i := range out {
		if r, ok := replays[out[i].Route]; ok {
			out[i].Replaying, out[i].ReplayLeft, out[i].ReplayStart = true, r.NumPending+uint64(r.NumAckPending), r.Config.OptStartSeq
		}
	}
	lastDeadLetterTraces(ctx, js, out)
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out, nil
}

func routeInfo(ci *jetstream.ConsumerInfo, dlq uint64) RouteInfo {
	subj := ci.Config.FilterSubjects
	if ci.Config.FilterSubject != "" {
		subj = []string{ci.Config.FilterSubject}
	}
	r := RouteInfo{Route: ci.Name, Stream: ci.Stream, Subjects: subj, Pending: ci.NumPending, AckPending: ci.NumAckPending,
		Redelivered: ci.NumRedelivered, Waiting: ci.NumWaiting, DLQDepth: dlq, Delivered: ci.Delivered.Stream,
		Acked: ci.AckFloor.Consumer}
	if ci.Delivered.Last != nil {
		r.LastActive = *ci.Delivered.Last
	}
	return r
}

// RouteState is the state of one route's consumer on stream.
func RouteState(ctx context.Context, js jetstream.JetStream, streamName, route string) (RouteInfo, error) {
	c, err := js.Consumer(ctx, streamName, route)
	if err != nil {
		return RouteInfo{}, fmt.Errorf("route %s on %s: %w", route, streamName, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return RouteInfo{}, fmt.Errorf("route %s on %s: %w", route, streamName, err)
	}
	depth, err := DLQDepth(ctx, js, route)
	if err != nil {
		return RouteInfo{}, err
	}
	return routeInfo(ci, depth), nil
}

// DLQDepth is the number of dead letters of one route.
func DLQDepth(ctx context.Context, js jetstream.JetStream, route string) (uint64, error) {
	s, err := js.Stream(ctx, events.StreamDLQ)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", events.StreamDLQ, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.DLQSubject(route, ">")))
	if err != nil {
		return 0, fmt.Errorf("dlq depth of %s: %w", route, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// DLQDepths counts dead letters per route (by the route token of their subject).
func DLQDepths(ctx context.Context, js jetstream.JetStream) (map[string]uint64, error) {
	out := map[string]uint64{}
	s, err := js.Stream(ctx, events.StreamDLQ)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.StreamDLQ, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("dlq.>"))
	if err != nil {
		return nil, fmt.Errorf("dlq depths: %w", err)
	}
	for subj, c := range info.State.Subjects {
		if route, _, err := events.ParseDLQSubject(subj); err == nil {
			out[route] += c
		}
	}
	return out, nil
}
