package dispatchbench

import (
	"context"
	"testing"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
)

func deps(tb testing.TB) service.Deps {
	tb.Helper()
	h := natstest.RunHub(tb)
	return service.Deps{Conn: h.Conn, JS: h.JS, Streams: stream.DefaultConfig()}
}

// TestScenarioRuns checks the scenario end to end at a small size; the
// numbers come from the benchmark.
func TestScenarioRuns(t *testing.T) {
	r, err := Run(context.Background(), deps(t), Options{Jobs: 100, Capacity: 8, FailingJobs: 20})
	if err != nil {
		t.Fatal(err)
	}
	if r.Dispatcher.N != 100 || r.Dispatcher.PerSecond <= 0 || r.PlainHTTP.PerSecond <= 0 || r.WithFailing.PerSecond <= 0 || r.Ratio <= 0 {
		t.Fatalf("report %+v", r)
	}
	if r.WithFailing.OtherDeliveries == 0 || r.Dispatcher.OtherDeliveries != 0 {
		t.Fatalf("deliveries of the failing service's jobs: %d with it, %d without", r.WithFailing.OtherDeliveries, r.Dispatcher.OtherDeliveries)
	}
	if r.String() == "" {
		t.Fatal("empty summary")
	}
}

// BenchmarkDispatcher reports jobs/s through the dispatcher to a no-op
// service at capacity 64, a plain client loop's calls/s at the same
// concurrency, their ratio, and the healthy jobs/s while an always-failing
// service's jobs run too:
//
//	go test -run '^$' -bench Dispatcher -benchtime 1x ./dispatch/dispatchbench/
func BenchmarkDispatcher(b *testing.B) {
	d := deps(b)
	for b.Loop() {
		r, err := Run(context.Background(), d, Options{Jobs: 5000, Capacity: 64})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Dispatcher.PerSecond, "jobs/s")
		b.ReportMetric(r.PlainHTTP.PerSecond, "plain-calls/s")
		b.ReportMetric(r.Ratio, "ratio")
		b.ReportMetric(r.WithFailing.PerSecond, "jobs/s-with-failing")
		b.ReportMetric(float64(r.WithFailing.OtherDeliveries), "failing-deliveries")
		if r.Dispatcher.CPUPerOp > 0 {
			b.ReportMetric(float64(r.Dispatcher.CPUPerOp.Nanoseconds())/1000, "cpu-us/job")
			b.ReportMetric(float64(r.PlainHTTP.CPUPerOp.Nanoseconds())/1000, "cpu-us/plain-call")
			b.ReportMetric(float64(r.WithFailing.CPUPerOp.Nanoseconds())/1000, "cpu-us/job-with-failing")
		}
		b.Log(r)
	}
}
