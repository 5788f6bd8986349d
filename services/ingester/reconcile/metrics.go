package reconcile

import "github.com/prometheus/client_golang/prometheus"

// Metrics shows what the reconciler finds. Create it once per registry.
type Metrics struct {
	failedDeliveries prometheus.Gauge
	redeliveries     prometheus.Counter
	passFailures     prometheus.Counter
}

// NewMetrics registers the reconciler metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		failedDeliveries: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "github_failed_deliveries", Help: "GitHub App webhook deliveries (GUIDs) with no successful attempt, found by the reconciler's last pass."}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "github_redeliveries_requested_total", Help: "Redeliveries the reconciler asked GitHub for."}),
		passFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "github_reconcile_failures_total", Help: "Reconciler passes that failed (GitHub API or NATS unreachable, rate limited)."}),
	}
	if reg != nil {
		reg.MustRegister(m.failedDeliveries, m.redeliveries, m.passFailures)
	}
	return m
}

func (m *Metrics) report(r Report) {
	if m != nil {
		m.failedDeliveries.Set(float64(len(r.Failed)))
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
