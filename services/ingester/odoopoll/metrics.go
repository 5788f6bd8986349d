package odoopoll

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the polls found. Create it once per registry.
type Metrics struct {
	events     *prometheus.CounterVec
	failures   *prometheus.CounterVec
	checkpoint *prometheus.GaugeVec
}

// NewMetrics registers the poll metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "odoo_poll_events_total", Help: "Changes the Odoo poll published, by source and result (stored: the webhook had missed it; duplicate: already stored)."},
			[]string{"source", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "odoo_poll_failures_total", Help: "Odoo poll passes that failed (Odoo or NATS unreachable), by source."},
			[]string{"source"}),
		checkpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "odoo_poll_checkpoint_timestamp_seconds", Help: "The write_date every change before which has been published, by source (Unix time)."},
			[]string{"source"}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.failures, m.checkpoint)
	}
	return m
}

func (m *Metrics) event(source string, duplicate bool) {
	if m == nil {
		return
	}
	result := "stored"
	if duplicate {
		result = "duplicate"
	}
	m.events.WithLabelValues(source, result).Inc()
}

func (m *Metrics) failed(source string) {
	if m != nil {
		m.failures.WithLabelValues(source).Inc()
	}
}

func (m *Metrics) pass(source string, reached time.Time) {
	if m != nil {
		m.checkpoint.WithLabelValues(source).Set(float64(reached.Unix()))
	}
}
