package dispatchbench

import (
	"context"
	"testing"
)

// TestGraphScenarioRuns checks the graph scenario end to end at a small size; the
// numbers come from the benchmark (and go run ./bench).
func TestGraphScenarioRuns(t *testing.T) {
	r, err := RunGraph(context.Background(), deps(t), GraphOptions{Nodes: 50, Options: Options{Capacity: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Graph.PerSecond <= 0 || r.Flat.PerSecond <= 0 || r.Ratio <= 0 || r.String() == "" {
		t.Fatalf("report %+v", r)
	}
}

// BenchmarkGraph reports nodes/s of a 1,000-node fan-out/fan-in graph and
// jobs/s of 1,000 independent jobs through the same dispatcher:
//
//	go test -run '^$' -bench Graph -benchtime 1x ./dispatch/dispatchbench/
func BenchmarkGraph(b *testing.B) {
	d := deps(b)
	for b.Loop() {
		r, err := RunGraph(context.Background(), d, GraphOptions{Nodes: 1000, Rounds: 3, Options: Options{Capacity: 64}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Graph.PerSecond, "nodes/s")
		b.ReportMetric(r.Flat.PerSecond, "flat-jobs/s")
		b.ReportMetric(r.Ratio, "ratio")
		b.Log(r)
	}
}
