package probe

import (
	"context"
	"errors"
	"fmt"

	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TargetNATS is the NATS server's target name.
const TargetNATS = "nats"

// NATS probes the NATS server healthmon is connected to (the embedded one
// or a cluster member): the connection is up and JetStream answers its
// account info. Not connected, or JetStream not answering in time, is
// down; JetStream disabled or failing is critical; an account whose file
// or memory storage is nearly full is a warning.
type NATS struct {
	Conn    *nats.Conn
	JS      jetstream.JetStream
	Latency status.Latency // slow-answer thresholds for the account info call
	Full    float64        // fraction of an account storage limit that is a warning; default 0.9
	Clock   Clock          // default time.Now
}

// Name is "nats".
func (p *NATS) Name() string { return TargetNATS }

// Check asks JetStream for the account info.
func (p *NATS) Check(ctx context.Context) ([]Result, error) {
	return []Result{p.check(ctx)}, nil
}

func (p *NATS) check(ctx context.Context) Result {
	r := Result{Target: TargetNATS, Kind: KindNATS, CheckedAt: p.Clock.Now(), Details: map[string]any{}}
	if p.Conn == nil || !p.Conn.IsConnected() {
		r.Status, r.Message = status.Down, "not connected to NATS"
		if p.Conn != nil {
			r.Message += fmt.Sprintf(" (connection %s)", p.Conn.Status())
			if err := p.Conn.LastError(); err != nil {
				r.Message += ": " + err.Error()
			}
		}
		return r
	}
	r.Details["server_name"] = p.Conn.ConnectedServerName()
	r.Details["server_version"] = p.Conn.ConnectedServerVersion()
	r.Details["url"] = p.Conn.ConnectedUrlRedacted()
	if c := p.Conn.ConnectedClusterName(); c != "" {
		r.Details["cluster"] = c
	}
	info, err := p.JS.AccountInfo(ctx)
	r.Latency = p.Clock.Now().Sub(r.CheckedAt)
	if err != nil {
		r.Status, r.Message = jetStreamStatus(ctx, err), "jetstream account info: "+unwrapURLError(ctx, err).Error()
		return r
	}
	r.Details["streams"] = info.Streams
	r.Details["consumers"] = info.Consumers
	r.Details["storage_bytes"] = info.Store
	r.Details["memory_bytes"] = info.Memory
	r.Details["api_errors"] = info.API.Errors
	r.Status, r.Message = status.OK, fmt.Sprintf("NATS %s answers, JetStream enabled (%d streams, %d consumers)",
		p.Conn.ConnectedServerVersion(), info.Streams, info.Consumers)
	if why := p.full(info); why != "" {
		r.Status, r.Message = status.Warning, why
	}
	return graded(r, p.Latency)
}

func (p *NATS) full(info *jetstream.AccountInfo) string {
	limit := p.Full
	if limit <= 0 {
		limit = 0.9
	}
	check := func(what string, used uint64, max int64) string {
		if max > 0 && float64(used) >= limit*float64(max) {
			return fmt.Sprintf("JetStream %s storage %.0f%% full (%d of %d bytes)", what, 100*float64(used)/float64(max), used, max)
		}
		return ""
	}
	return joinMessage(check("file", info.Store, info.Limits.MaxStore), check("memory", info.Memory, info.Limits.MaxMemory))
}

func jetStreamStatus(ctx context.Context, err error) status.Status {
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return status.Critical
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), ctx.Err() != nil,
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrNoResponders):
		return status.Down
	}
	return status.Critical
}
