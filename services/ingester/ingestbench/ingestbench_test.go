package ingestbench_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/ingestbench"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
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
	stored := 100 // HTTP and Direct
	for _, mode := range []ingestbench.Mode{ingestbench.HTTP, ingestbench.Direct, ingestbench.NoopHTTP} {
		res, err := bench.Run(t.Context(), ingestbench.Scenario{Mode: mode, Concurrency: 4, Deliveries: 50, Payload: payload})
		if err != nil || res.PerSecond <= 0 || res.P99 < res.P50 {
			t.Fatalf("%s: %+v %v", mode, res, err)
		}
	}
	// The raw client's requests are signed deliveries the ingester stores
	// too (by count and for a duration).
	for _, s := range []ingestbench.Scenario{{Deliveries: 50}, {Duration: 200 * time.Millisecond}} {
		s.Mode, s.Client, s.Concurrency, s.Payload = ingestbench.HTTP, ingestbench.RawClient, 4, payload
		res, err := bench.Run(t.Context(), s)
		if err != nil || res.PerSecond <= 0 || res.P99 < res.P50 {
			t.Fatalf("raw client: %+v %v", res, err)
		}
		stored += res.Scenario.Deliveries
	}
	s, err := js.Stream(t.Context(), events.StreamGitHub)
	if err != nil || s.CachedInfo().State.Msgs != uint64(stored) {
		t.Fatalf("stored: %v", err)
	}
	if _, err := bench.Run(t.Context(), ingestbench.Scenario{Mode: ingestbench.HTTP}); err == nil {
		t.Fatal("a scenario without a payload ran")
	}
	if err := bench.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkBodiesMemory posts ten signed 24 MiB chunked deliveries at
// once into an ingester with the default 256 MiB body budget and reports
// the peak heap in use (runtime.MemStats.HeapInuse, sampled every 5ms) of
// this process — the ingester and the HTTP client, whose one 24 MiB
// payload is shared by the ten requests — without and with a Go memory
// limit of 1.25 times the budget. The JetStream server runs in a child
// process, as it does in a deployment of the ingester alone, so that its
// own copies of the messages are not counted:
//
//	go test -run '^$' -bench BodiesMemory -benchtime 1x -count 3 ./ingestbench
func BenchmarkBodiesMemory(b *testing.B) {
	nc, js := natstest.Connect(b, childNATS(b))
	bench, err := ingestbench.Start(b.Context(), nc, js)
	if err != nil {
		b.Fatal(err)
	}
	defer bench.Close()
	for _, limit := range []int64{0, intake.DefaultBudgetBytes * 5 / 4} {
		b.Run(fmt.Sprintf("memory_limit=%dMiB", limit>>20), func(b *testing.B) {
			if limit > 0 {
				defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
			}
			var peak uint64
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				debug.FreeOSMemory()
				stop := sample(&peak)
				b.StartTimer()
				statuses, err := bench.Bodies(b.Context(), 10, 24<<20, true)
				stop()
				if err != nil || statuses[http.StatusAccepted] == 0 {
					b.Fatalf("%v %v", statuses, err)
				}
				b.ReportMetric(float64(statuses[http.StatusAccepted]), "stored")
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(peak)/float64(intake.DefaultBudgetBytes), "peak/budget")
		})
	}
}

// childNATSEnv names the store directory of the JetStream server the test
// binary runs when started by childNATS.
const childNATSEnv = "INGESTBENCH_CHILD_NATS_DIR"

// TestMain runs a JetStream server with the hub's streams instead of the
// tests when started by childNATS: it prints its URL and serves until its
// standard input closes (when the parent ends).
func TestMain(m *testing.M) {
	dir := os.Getenv(childNATSEnv)
	if dir == "" {
		os.Exit(m.Run())
	}
	h, err := natstest.StartHub(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(h.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	h.Close()
}

// childNATS starts this test binary as a JetStream server in another
// process for the benchmark and returns its URL; it stops with tb.
func childNATS(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childNATSEnv+"="+tb.TempDir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("the JetStream child process: %v", err)
	}
	return strings.TrimSpace(url)
}

// sample records the largest HeapInuse seen into peak until stop is called.
func sample(peak *uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
