package intake

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts requests, times publishes and shows the body budget.
// Create it once per registry.
type Metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	publish    *prometheus.HistogramVec
	bodyBytes  prometheus.Gauge
	budgetSize prometheus.Gauge
}

// NewMetrics registers the ingester's request metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "requests_total", Help: "Webhook requests by source (github, odoo/<name>), HTTP status and outcome."},
			[]string{"source", "status", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "request_duration_seconds", Help: "Time from request to answer, by source.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2.5, 14)}, []string{"source"}),
		publish: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "publish_duration_seconds", Help: "Time from publish to PubAck, by subject family and result (stored, duplicate, error).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14)}, []string{"family", "result"}),
		bodyBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "body_bytes_in_flight", Help: "Bytes of request bodies reserved in the body budget now (being read, checked or published)."}),
		budgetSize: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pulsehub", Subsystem: "ingester",
			Name: "body_budget_bytes", Help: "The budget for request bodies in flight (ingester.max_in_flight_bytes); 0 = unlimited."}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.publish, m.bodyBytes, m.budgetSize)
	}
	return m
}

func (m *Metrics) inFlight(delta int64) {
	if m != nil {
		m.bodyBytes.Add(float64(delta))
	}
}

func (m *Metrics) budget(size int64) {
	if m != nil {
		m.budgetSize.Set(float64(size))
	}
}

func (m *Metrics) request(res Result, took time.Duration) {
	m.requests.WithLabelValues(res.Source, strconv.Itoa(res.Status), res.Outcome).Inc()
	m.duration.WithLabelValues(res.Source).Observe(took.Seconds())
}

func (m *Metrics) published(subject string, ack *jetstream.PubAck, err error, took time.Duration) {
	if m == nil {
		return
	}
	result := "stored"
	switch {
	case err != nil:
		result = "error"
	case ack.Duplicate:
		result = "duplicate"
	}
	m.publish.WithLabelValues(family(subject), result).Observe(took.Seconds())
}

// family is the first token of a subject (github, odoo): a label with few values.
func family(subject string) string {
	f, _, _ := strings.Cut(subject, ".")
	return f
}
