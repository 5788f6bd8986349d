package writerbench

import (
	"context"
	"testing"
	"time"

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

func TestCeilingScenariosWriteEveryPartner(t *testing.T) {
	ctx := context.Background()
	for _, transport := range []string{"xmlrpc", "json2"} {
		o := CeilingOptions{Records: 300, Transport: transport, Latency: odootest.Latency{PerCall: 1}}
		hub, err := Hub(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		burst, err := HubBurst(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		ceiling, err := OdooAlone(ctx, o, o.Records)
		if err != nil {
			t.Fatal(err)
		}
		idle, err := IdleLatency(ctx, o, 5)
		if err != nil {
			t.Fatal(err)
		}
		if hub.PerSecond <= 0 || hub.Batches == 0 || burst.Batches == 0 || ceiling.OdooCalls != 1 || idle.Samples != 5 || idle.P50 <= 0 {
			t.Errorf("%s: hub %v, ceiling %v, idle %+v", transport, hub, ceiling, idle)
		}
	}
}

// BenchmarkCeiling is issue 14's comparison on the fake costing what a
// real Odoo 19 does: 2,000 res.partner upserts through the writer vs one
// create of 2,000 (Odoo's ceiling), per transport:
//
//	go test -run '^$' -bench Ceiling -benchtime 1x ./writer/writerbench/
func BenchmarkCeiling(b *testing.B) {
	for _, transport := range []string{"xmlrpc", "json2"} {
		b.Run(transport, func(b *testing.B) {
			o := CeilingOptions{Transport: transport}
			var hub, ceiling Measure
			for b.Loop() {
				var err error
				if hub, err = Hub(context.Background(), o); err != nil {
					b.Fatal(err)
				}
				if ceiling, err = OdooAlone(context.Background(), o, 1<<30); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(hub.PerSecond, "hub-records/s")
			b.ReportMetric(ceiling.PerSecond, "ceiling-records/s")
			b.ReportMetric(hub.PerSecond/ceiling.PerSecond, "ratio")
			b.Logf("hub %v; ceiling %v", hub, ceiling)
		})
	}
}

// BenchmarkWriterPath is the writer's own cost: 2,000 upserts waiting in
// the stream, written into a fake Odoo that costs nothing, with the CPU
// time of the whole process (writer, nats-server and fake) per record.
// Profile it with
//
//	go test -run '^$' -bench WriterPath -benchtime 5x -cpuprofile cpu.out -memprofile mem.out ./writer/writerbench/
//	go tool pprof -top writer/writerbench/writerbench.test cpu.out
func BenchmarkWriterPath(b *testing.B) {
	o := CeilingOptions{Latency: odootest.Latency{PerCall: 1}}
	var cpu time.Duration
	for b.Loop() {
		r, err := Hub(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		cpu += r.CPUPerRecord
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1000, "cpu-µs/record")
	b.ReportAllocs()
}
