package reconcile

import (
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics shows what the reconciler finds. Create it once per registry.
type Metrics struct {
	failedDeliveries  prometheus.Gauge
	pendingDeliveries prometheus.Gauge
	lastRun           prometheus.Gauge
	redeliveries      prometheus.Counter
	passFailures      prometheus.Counter
	errors            *prometheus.CounterVec
	expiredRecords    prometheus.Counter
}

// NewMetrics registers the reconciler metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		// The health monitor reads these two (target github-reconciler).
		failedDeliveries: prometheus.NewGauge(prometheus.GaugeOpts{Name: wire.MetricReconcilerFailed,
			Help: "GitHub App webhook deliveries (GUIDs) with no successful attempt known, as of the reconciler's last pass."}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: wire.MetricReconcilerLastRun,
			Help: "When the reconciler's last successful pass ended, Unix seconds."}),
		pendingDeliveries: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pulsehub_github_reconciler_pending_deliveries",
			Help: "Of the failed deliveries, those the reconciler has yet to ask for, or whose redelivery it awaits."}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "github_redeliveries_requested_total", Help: "Redeliveries the reconciler asked GitHub for (accepted)."}),
		passFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "github_reconcile_failures_total", Help: "Reconciler passes that failed (GitHub API or NATS unreachable, the App's JWT refused, rate limited)."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "github_reconcile_errors_total", Help: "The reconciler's errors by class: those that ended a pass and those about one delivery."},
			[]string{"class"}),
		expiredRecords: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "github_redeliveries_expired_total", Help: "Failed deliveries the reconciler dropped: older than its lookback."}),
	}
	if reg != nil {
		reg.MustRegister(m.failedDeliveries, m.pendingDeliveries, m.lastRun, m.redeliveries, m.passFailures, m.errors, m.expiredRecords)
	}
	return m
}

// report shows a complete pass's findings.
func (m *Metrics) report(r Report) {
	if m == nil {
		return
	}
	m.failedDeliveries.Set(float64(len(r.Failed)))
	m.pendingDeliveries.Set(float64(r.Pending))
	m.lastRun.SetToCurrentTime()
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

func (m *Metrics) errored(class string) {
	if m != nil {
		m.errors.WithLabelValues(class).Inc()
	}
}

func (m *Metrics) expired() {
	if m != nil {
		m.expiredRecords.Inc()
	}
}
