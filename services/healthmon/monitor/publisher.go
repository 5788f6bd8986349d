package monitor

import (
	"context"
	"fmt"

	"github.com/insightpulse/pulsehub/events/lease"
	"github.com/insightpulse/pulsehub/services/healthmon/store"
)

// PublisherLease is the key, in bucket leases, of the replica that writes
// bucket health and publishes transitions: `nats kv get leases
// healthmon.publisher` names it.
//
// Every replica probes every target, so each one's status page and
// /health tell the truth on their own; only the holder of this lease
// stores the statuses and announces their changes, so two replicas do not
// announce one change twice (at different times, which JetStream could
// not de-duplicate) nor overwrite each other's values. A replica standing
// by keeps its own verdicts; when it takes over it adopts what the
// previous holder stored since it last looked (see adopt).
const PublisherLease = "healthmon.publisher"

// contend runs the publisher lease until ctx is done.
func (m *Monitor) contend(ctx context.Context) error {
	l := lease.Lease{JS: m.deps.JS, Streams: m.deps.Streams, Key: PublisherLease, TTL: lease.DefaultTTL, Log: m.log, Metrics: m.leases}
	if err := l.Run(ctx, m.publish); err != nil {
		return fmt.Errorf("publisher lease: health statuses would be neither stored nor published: %w", err)
	}
	return nil
}

// publish is the work under the lease: adopt the stored statuses, then
// store and publish until the lease is lost or the monitor stops.
func (m *Monitor) publish(ctx context.Context) error {
	adopted := m.adopt(ctx)
	m.publishing.Store(true)
	m.log.Info("this replica stores health statuses and publishes transitions", "adopted", adopted)
	<-ctx.Done()
	m.publishing.Store(false)
	return nil
}

// adopt takes on the statuses another replica stored since this one last
// read or wrote them: their status and since replace this replica's own
// verdicts, and its waiting transitions for them are dropped (the other
// replica announced what it saw). Where the bucket holds what this replica
// knows (it was the last to publish, say before NATS went away), its
// verdicts and waiting transitions stand. It returns how many targets it
// adopted.
func (m *Monitor) adopt(ctx context.Context) int {
	lctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	recs, err := m.store.Load(lctx)
	if err != nil {
		m.log.Warn("stored health statuses not loaded on taking over: publishing this replica's own", "error", err.Error())
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for name, r := range recs {
		if k, ok := m.known[name]; ok && sameRecord(k, r) {
			continue
		}
		m.tracker.Restore(name, r.Status, r.Since)
		delete(m.unsent, name)
		m.known[name] = r
		n++
	}
	return n
}

// sameRecord tells whether two values of a target are the same write.
func sameRecord(a, b store.Record) bool {
	return a.Status == b.Status && a.Since.Equal(b.Since) && a.CheckedAt.Equal(b.CheckedAt)
}
