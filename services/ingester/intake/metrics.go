package intake

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts requests and times publishes. Create it once per registry.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	publish  *prometheus.HistogramVec
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
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.publish)
	}
	return m
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
