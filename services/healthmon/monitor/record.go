package monitor

import (
	"context"
	"maps"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/services/healthmon/probe"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/insightpulse/pulsehub/services/healthmon/store"
)

// maxUnsent bounds the transitions kept per target while NATS is away.
const maxUnsent = 16

// record applies one result: hysteresis decides the status, the KV gets
// the record, and a transition is published when the status changed.
func (m *Monitor) record(ctx context.Context, r probe.Result) {
	r = scrubbed(r)
	step := m.tracker.Observe(r.Target, r.Status, r.CheckedAt)
	rec := store.Record{Target: r.Target, Kind: r.Kind, Status: step.Status, LatencyMS: store.Millis(r.Latency),
		Message: r.Message, CheckedAt: r.CheckedAt.UTC(), Since: step.Since.UTC(), Details: maps.Clone(r.Details)}
	var seen status.Status
	if r.Status != step.Status {
		// Not confirmed yet: say what the probe saw, and how far along the change is.
		seen = r.Status
		if rec.Details == nil {
			rec.Details = map[string]any{}
		}
		rec.Details["probe_status"] = r.Status
		rec.Details["agreeing_results"] = step.PendingCount
		rec.Details["results_needed"] = m.cfg.Consecutive
	}
	m.mu.Lock()
	m.targets[r.Target] = &target{kind: r.Kind, record: rec, seen: seen, result: r}
	if r.Route != nil {
		m.remember(r.Route, r.CheckedAt)
	}
	m.mu.Unlock()
	m.metrics.record(rec, r.Route)
	if m.store == nil || rec.Status == status.Unknown {
		// A first bad result not confirmed yet: the bucket holds only
		// decided statuses (health-status.schema.json).
		return
	}
	if step.Changed {
		m.queue(transition(step, rec))
	}
	if !m.publishing.Load() {
		return // another replica holds the publisher lease: it stores and publishes
	}
	if m.deps.Conn != nil && !m.deps.Conn.IsConnected() {
		// NATS is away (target nats says so): do not wait for it; the
		// transition waits for the target's next result.
		m.metrics.errors.WithLabelValues("store").Inc()
		return
	}
	sctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	// Announce, then store: should the lease pass to another replica in
	// between, it finds the old status stored and announces the change
	// again, rather than finding it stored and never announced.
	m.flush(sctx, r.Target)
	if err := m.store.Put(sctx, rec); err != nil {
		m.metrics.errors.WithLabelValues("store").Inc()
		m.log.Warn("health status not stored", "target", r.Target, "status", string(rec.Status), "error", err.Error())
		return
	}
	m.mu.Lock()
	m.known[r.Target] = rec
	m.mu.Unlock()
}

// scrubbed is r with every configured secret taken out of its message and
// details: what a probe read (an error answer, a failing check's text, an
// Odoo fault) goes into KV, the HEALTH stream, the status page and the log.
func scrubbed(r probe.Result) probe.Result {
	r.Message = config.Scrub(r.Message)
	if len(r.Details) > 0 {
		d := make(map[string]any, len(r.Details))
		for k, v := range r.Details {
			if s, ok := v.(string); ok {
				v = config.Scrub(s)
			}
			d[k] = v
		}
		r.Details = d
	}
	return r
}

// transition is the event for a completed step.
func transition(step status.Step, rec store.Record) store.Transition {
	t := store.Transition{Target: rec.Target, Status: step.Status, Previous: step.Previous, Since: step.Since.UTC(),
		Reason: rec.Message, LatencyMS: rec.LatencyMS, CheckedAt: rec.CheckedAt}
	if step.Previous != status.Unknown {
		ps := step.PreviousSince.UTC()
		d := store.Millis(step.Since.Sub(step.PreviousSince))
		t.PreviousSince, t.DurationInPreviousMS = &ps, &d
	}
	return t
}

func (m *Monitor) queue(t store.Transition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := append(m.unsent[t.Target], t)
	if len(q) > maxUnsent && !m.publishing.Load() {
		q = q[len(q)-maxUnsent:] // standing by: kept only for a takeover with nothing newer in the bucket
	}
	if len(q) > maxUnsent {
		m.log.Warn("health transitions dropped: NATS has been away too long", "target", t.Target, "dropped", len(q)-maxUnsent)
		q = q[len(q)-maxUnsent:]
	}
	m.unsent[t.Target] = q
}

// flush publishes a target's waiting transitions in order, stopping at the
// first failure; the rest wait for the target's next result. A transition
// published twice (its acknowledgement lost) is stored once: its event id
// is stable.
func (m *Monitor) flush(ctx context.Context, target string) {
	for {
		m.mu.Lock()
		q := m.unsent[target]
		m.mu.Unlock()
		if len(q) == 0 {
			return
		}
		t := q[0]
		// A transition that cannot go out now (the HEALTH stream missing,
		// its leader being elected) waits for the target's next result:
		// one second of retries, not the probe's whole round.
		pctx, cancel := context.WithTimeout(ctx, transitionPublishWait)
		id, err := m.store.Publish(pctx, t)
		cancel()
		log := m.log.With("correlation_id", id, "target", t.Target, "status", string(t.Status), "previous", string(t.Previous),
			"subject", events.HealthSubject(t.Target, string(t.Status)))
		if err != nil {
			m.metrics.errors.WithLabelValues("publish").Inc()
			log.Warn("health transition not published yet; it will be retried", "error", err.Error())
			return
		}
		m.mu.Lock()
		if q := m.unsent[target]; len(q) > 0 {
			m.unsent[target] = q[1:]
		}
		m.mu.Unlock()
		m.metrics.transitions.WithLabelValues(t.Target, string(t.Status)).Inc()
		level := log.Info
		if t.Status.Rank() > t.Previous.Rank() && t.Previous != status.Unknown {
			level = log.Warn
		}
		level("health transition", "reason", t.Reason, "latency_ms", t.LatencyMS)
	}
}

// remove forgets a target that no longer exists (a deleted route, a
// breaker the dispatcher no longer has); its KV history stays.
func (m *Monitor) remove(ctx context.Context, name string) {
	m.mu.Lock()
	t := m.targets[name]
	delete(m.targets, name)
	delete(m.unsent, name)
	delete(m.known, name)
	m.mu.Unlock()
	m.tracker.Forget(name)
	if t != nil {
		m.metrics.forget(name, t.kind, t.result.Route)
	}
	m.log.Info("health target gone", "target", name)
	if m.store != nil && m.publishing.Load() {
		sctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		defer cancel()
		if err := m.store.Delete(sctx, name); err != nil {
			m.metrics.errors.WithLabelValues("store").Inc()
			m.log.Warn("gone health target not deleted from the bucket", "target", name, "error", err.Error())
		}
	}
}

// transitionPublishWait bounds one attempt to publish a transition.
const transitionPublishWait = time.Second
