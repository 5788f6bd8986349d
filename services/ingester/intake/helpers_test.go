package intake_test

import (
	"testing"

	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

func jetstreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: "GITHUB", Subjects: []string{"github.>"}, Storage: jetstream.MemoryStorage}
}

// counter finds one series of pulsehub_ingester_requests_total.
func counter(t *testing.T, reg *prometheus.Registry, source, status, outcome string) float64 {
	t.Helper()
	return ingesttest.Metric(t, reg, "pulsehub_ingester_requests_total", map[string]string{"source": source, "status": status, "outcome": outcome})
}

// gauge reads a gauge without labels.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return ingesttest.Metric(t, reg, name, nil)
}
