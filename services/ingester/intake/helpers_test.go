package intake_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

func jetstreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: "GITHUB", Subjects: []string{"github.>"}, Storage: jetstream.MemoryStorage}
}

// counter finds one series of pulsehub_ingester_requests_total.
func counter(t *testing.T, reg *prometheus.Registry, source, status, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "pulsehub_ingester_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["source"] == source && l["status"] == status && l["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no requests_total{%s,%s,%s}", source, status, outcome)
	return 0
}
