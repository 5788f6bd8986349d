package writerbench

import (
	"context"
	"testing"

	"github.com/insightpulse/pulsehub/odoo/odootest"
)

func TestScenarioWritesEveryEventOnce(t *testing.T) {
	for _, op := range []string{"upsert", "create"} {
		r, err := Run(context.Background(), Options{Events: 300, Op: op, Latency: odootest.Latency{PerCall: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if r.RecordsPerSec <= 0 || r.OdooCalls == 0 || r.OdooCalls >= 300 {
			t.Errorf("%s: %v", op, r)
		}
	}
}

// BenchmarkWriter writes 5,000 events into the fake Odoo at 5ms per call
// and 0.1ms per record: batched with the defaults (batch_size 100,
// concurrency 100), batched with two batches in flight (concurrency 200),
// and one call per event (batch_size 1, 16 messages in flight):
//
//	go test -run '^$' -bench Writer -benchtime 1x ./writer/writerbench/
func BenchmarkWriter(b *testing.B) {
	for _, op := range []string{"upsert", "create"} {
		for _, c := range []struct {
			name                   string
			batchSize, concurrency int
		}{{"batched", 100, 0}, {"batched-concurrency-200", 100, 200}, {"one-call-per-event", 1, 0}} {
			b.Run(op+"/"+c.name, func(b *testing.B) {
				var last Result
				for b.Loop() {
					r, err := Run(context.Background(), Options{Op: op, BatchSize: c.batchSize, Concurrency: c.concurrency})
					if err != nil {
						b.Fatal(err)
					}
					last = r
				}
				b.ReportMetric(last.RecordsPerSec, "records/s")
				b.ReportMetric(float64(last.OdooCalls), "odoo-calls")
				b.Log(last)
			})
		}
	}
}
