package lease

import "github.com/prometheus/client_golang/prometheus"

// Metrics shows which replica holds which lease. Register it once per
// registry; a nil *Metrics counts nothing.
type Metrics struct {
	held     *prometheus.GaugeVec
	acquires *prometheus.CounterVec
	losses   *prometheus.CounterVec
}

// NewMetrics registers the lease metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "pulsehub", Subsystem: "lease", Name: "held",
			Help: "1 while this replica holds the lease and runs its work, 0 while it stands by."}, []string{"lease"}),
		acquires: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "lease", Name: "acquired_total",
			Help: "Times this replica acquired the lease."}, []string{"lease"}),
		losses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "lease", Name: "lost_total",
			Help: "Times this replica lost the lease without releasing it (not renewed in time, or written by someone else)."}, []string{"lease"}),
	}
	if reg != nil {
		reg.MustRegister(m.held, m.acquires, m.losses)
	}
	return m
}

func (m *Metrics) acquired(key string) {
	if m != nil {
		m.held.WithLabelValues(key).Set(1)
		m.acquires.WithLabelValues(key).Inc()
	}
}

func (m *Metrics) lost(key string) {
	if m != nil {
		m.held.WithLabelValues(key).Set(0)
		m.losses.WithLabelValues(key).Inc()
	}
}

// idle shows the lease not held by this replica (at start, after a release).
func (m *Metrics) idle(key string) {
	if m != nil {
		m.held.WithLabelValues(key).Set(0)
		m.acquires.WithLabelValues(key) // shown from the start, at 0
		m.losses.WithLabelValues(key)
	}
}
