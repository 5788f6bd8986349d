package reconcile

import (
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics shows what the reconciler finds. Create it once per registry.
type Metrics struct {
	failedDeliveries prometheus.Gauge
	lastRun          prometheus.Gauge
	redeliveries     prometheus.Counter
	passFailures     prometheus.Counter
}

// NewMetrics registers the reconciler metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		// The health monitor reads these two (target github-reconciler).
		failedDeliveries: prometheus.NewGauge(prometheus.GaugeOpts{Name: wire.MetricReconcilerFailed,
			Help: "GitHub App webhook deliveries (GUIDs) with no successful attempt, found by the reconciler's last pass."}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: wire.MetricReconcilerLastRun,
			Help: "When the reconciler's last successful pass ended, Unix seconds."}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "github_redeliveries_requested_total", Help: "Redeliveries the reconciler asked GitHub for."}),
		passFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "github_reconcile_failures_total", Help: "Reconciler passes that failed (GitHub API or NATS unreachable, rate limited)."}),
	}
	if reg != nil {
		reg.MustRegister(m.failedDeliveries, m.lastRun, m.redeliveries, m.passFailures)
	}
	return m
}

// report shows a pass's findings; complete says it ran to its end.
func (m *Metrics) report(r Report, complete bool) {
	if m == nil {
		return
	}
	m.failedDeliveries.Set(float64(len(r.Failed)))
	if complete {
		m.lastRun.SetToCurrentTime()
	}
}

func (m *Metrics) redelivered() {
	if m != nil {
		m.redeliveries.Inc()
	}
}

func (m *Metrics) failed() {
	if m != nil {
		m.passFailures.Inc()
	}
}
