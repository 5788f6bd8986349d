package ingestbench_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/ingestbench"
)

// BenchmarkIngest compares signed 7 KB push deliveries over HTTP into the
// ingester with the same payloads published straight to JetStream, at
// concurrency 1, 16 and 64, in one run:
//
//	go test -run '^$' -bench Ingest -benchtime 3000x ./ingestbench
func BenchmarkIngest(b *testing.B) {
	payload, err := os.ReadFile("../testdata/github/push/payload.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := natstest.RunServer(b)
	nc, js := natstest.Connect(b, srv.ClientURL())
	bench, err := ingestbench.Start(b.Context(), nc, js)
	if err != nil {
		b.Fatal(err)
	}
	defer bench.Close()
	for _, c := range []int{1, 16, 64} {
		for _, mode := range []ingestbench.Mode{ingestbench.HTTP, ingestbench.Direct, ingestbench.NoopHTTP} {
			b.Run(fmt.Sprintf("%s/c=%d", mode, c), func(b *testing.B) {
				b.SetBytes(int64(len(payload)))
				b.ResetTimer()
				res, err := bench.Run(b.Context(), ingestbench.Scenario{Mode: mode, Concurrency: c, Deliveries: b.N, Payload: payload})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.PerSecond, "deliveries/s")
				b.ReportMetric(float64(res.P50.Microseconds())/1000, "p50_ms")
				b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99_ms")
			})
		}
	}
}

func TestRunStoresEveryDelivery(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, js := natstest.Connect(t, srv.ClientURL())
	bench, err := ingestbench.Start(t.Context(), nc, js)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"ref":"refs/heads/main"}`)
	for _, mode := range []ingestbench.Mode{ingestbench.HTTP, ingestbench.Direct, ingestbench.NoopHTTP} {
		res, err := bench.Run(t.Context(), ingestbench.Scenario{Mode: mode, Concurrency: 4, Deliveries: 50, Payload: payload})
		if err != nil || res.PerSecond <= 0 || res.P99 < res.P50 {
			t.Fatalf("%s: %+v %v", mode, res, err)
		}
	}
	s, err := js.Stream(t.Context(), events.StreamGitHub)
	if err != nil || s.CachedInfo().State.Msgs != 100 {
		t.Fatalf("stored: %v", err)
	}
	if _, err := bench.Run(t.Context(), ingestbench.Scenario{Mode: ingestbench.HTTP}); err == nil {
		t.Fatal("a scenario without a payload ran")
	}
	if err := bench.Close(); err != nil {
		t.Fatal(err)
	}
}
