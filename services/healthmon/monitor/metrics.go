package monitor

import (
	"fmt"

	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/insightpulse/pulsehub/services/healthmon/store"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are healthmon's Prometheus series, registered once per registry.
type metrics struct {
	status      *prometheus.GaugeVec   // per target: -1 unknown, 0 ok, 1 warning, 2 critical, 3 down
	state       *prometheus.GaugeVec   // per target and status: 1 for the current one, 0 for the others
	latency     *prometheus.GaugeVec   // per target: the last probe's latency
	checked     *prometheus.GaugeVec   // per target: when it was last probed
	pending     *prometheus.GaugeVec   // per route
	ackPending  *prometheus.GaugeVec   // per route
	redelivered *prometheus.GaugeVec   // per route
	dlq         *prometheus.GaugeVec   // per route
	advisories  *prometheus.CounterVec // per stream and consumer
	transitions *prometheus.CounterVec // per target and new status
	errors      *prometheus.CounterVec // per failing operation
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "pulsehub", Subsystem: "healthmon", Name: name, Help: help}, labels)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "healthmon", Name: name, Help: help}, labels)
	}
	m := &metrics{
		status:      gauge("target_status", "A target's status: -1 unknown, 0 ok, 1 warning, 2 critical, 3 down.", "target", "kind"),
		state:       gauge("target_state", "1 when the target has this status, else 0.", "target", "kind", "status"),
		latency:     gauge("target_latency_seconds", "How long the target's last probe took.", "target", "kind"),
		checked:     gauge("target_checked_timestamp_seconds", "When the target was last probed (Unix time).", "target", "kind"),
		pending:     gauge("route_pending_messages", "Messages stored but not yet delivered to the route's consumer.", "route", "stream"),
		ackPending:  gauge("route_ack_pending_messages", "Messages delivered to the route and awaiting ack.", "route", "stream"),
		redelivered: gauge("route_redelivered_messages", "Messages delivered to the route more than once, awaiting ack.", "route", "stream"),
		dlq:         gauge("route_dlq_depth_messages", "Dead letters of the route in stream DLQ.", "route", "stream"),
		advisories:  counter("max_deliveries_advisories_total", "JetStream MAX_DELIVERIES advisories: messages a consumer gave up on.", "stream", "consumer"),
		transitions: counter("transitions_total", "Status transitions published, by target and new status.", "target", "status"),
		errors:      counter("errors_total", "Failures of healthmon itself: storing a status, publishing a transition, a probe that could not list its targets.", "op"),
	}
	for _, c := range []prometheus.Collector{m.status, m.state, m.latency, m.checked, m.pending, m.ackPending,
		m.redelivered, m.dlq, m.advisories, m.transitions, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("healthmon metrics: %w", err)
		}
	}
	return m, nil
}

// unknown shows a target that has not been probed yet.
func (m *metrics) unknown(target, kind string) {
	m.setStatus(target, kind, status.Unknown)
}

func (m *metrics) setStatus(target, kind string, s status.Status) {
	m.status.WithLabelValues(target, kind).Set(float64(s.Rank()))
	for _, each := range status.All {
		v := 0.0
		if each == s {
			v = 1
		}
		m.state.WithLabelValues(target, kind, string(each)).Set(v)
	}
}

func (m *metrics) record(r store.Record, route *stream.RouteInfo) {
	m.setStatus(r.Target, r.Kind, r.Status)
	m.latency.WithLabelValues(r.Target, r.Kind).Set(r.LatencyMS / 1000)
	m.checked.WithLabelValues(r.Target, r.Kind).Set(float64(r.CheckedAt.UnixMilli()) / 1000)
	if route != nil {
		m.pending.WithLabelValues(route.Route, route.Stream).Set(float64(route.Pending))
		m.ackPending.WithLabelValues(route.Route, route.Stream).Set(float64(route.AckPending))
		m.redelivered.WithLabelValues(route.Route, route.Stream).Set(float64(route.Redelivered))
		m.dlq.WithLabelValues(route.Route, route.Stream).Set(float64(route.DLQDepth))
	}
}

// forget drops the series of a target that no longer exists.
func (m *metrics) forget(target, kind string, route *stream.RouteInfo) {
	m.status.DeleteLabelValues(target, kind)
	m.latency.DeleteLabelValues(target, kind)
	m.checked.DeleteLabelValues(target, kind)
	for _, s := range status.All {
		m.state.DeleteLabelValues(target, kind, string(s))
	}
	if route != nil {
		for _, g := range []*prometheus.GaugeVec{m.pending, m.ackPending, m.redelivered, m.dlq} {
			g.DeleteLabelValues(route.Route, route.Stream)
		}
	}
}
