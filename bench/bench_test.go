package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestQuickRunProducesEveryTable runs every scenario with tiny sizes: it
// proves the bench program works, and asserts nothing about speed (the
// machines are shared; numbers go to docs/performance.md, not to tests).
func TestQuickRunProducesEveryTable(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	o := Quick()
	var log bytes.Buffer
	o.Log = &log
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(r.Ingest) != 3 || r.Writer.Rates["xmlrpc"].Hub == 0 || len(r.Writer.Curve) == 0 || r.Dispatch.Dispatcher.PerSecond == 0 || r.EndToEnd.Samples != o.Latency || len(r.Scale) != 1 ||
		len(r.Durability) != len(syncSettings) || len(r.Durability[0].IngestC64.PerSecond) != o.Rounds || r.Durability[len(syncSettings)-1].Dispatch.Median() == 0 ||
		len(r.Tracing) != len(tracingSettings) || r.Tracing[0].Spans != 0 || r.Tracing[1].Spans == 0 || r.Tracing[2].Dispatch.Median() == 0 ||
		r.JobsPeers == nil || len(r.JobsPeers.Hub) != o.Rounds || r.JobsPeers.Hub[0].CPUPerJob == 0 || len(r.JobsPeers.Floor) != o.Rounds || r.JobsPeers.Floor[0].CPUPerJob == 0 || r.Peers == nil || r.Graph.Graph.PerSecond == 0 {
		t.Fatalf("report incomplete: %+v", r)
	}
	// River runs where PostgreSQL is installed (.ci/run installs it); elsewhere its row says why not.
	if p := r.JobsPeers; p.RiverSkipped == "" && (len(p.River) != o.Rounds || p.River[0].ServerCPUPerJob == 0 || len(p.RiverDefaults) != o.Rounds) {
		t.Fatalf("River rows incomplete: %+v", p)
	}
	md := r.Markdown()
	for _, want := range []string{"### 1.", "### 2.", "### 3.", "### 4.", "### 5.", "### 6.", "### 7.", "1s (hub default)", "155 jobs/s", "### 8.", "default sampler", "### 9.", "raw JetStream floor", "### 10.", "### 11."} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestOnlyKeepsTheTablesOfTheScenariosRun(t *testing.T) {
	r := Report{Only: []int{7}, Rounds: 1, Durability: []DurabilityRow{{Sync: "2m"}, {Sync: "1s", HubDefault: true}}}
	md := r.Markdown()
	if !strings.HasPrefix(md, "Measured ") || !strings.Contains(md, "### 7.") || !strings.Contains(md, "| 1s (hub default) |") {
		t.Fatalf("markdown:\n%s", md)
	}
	for _, n := range []string{"### 1.", "### 2.", "### 3.", "### 4.", "### 5.", "### 6."} {
		if strings.Contains(md, n) {
			t.Errorf("--only 7 prints %s", n)
		}
	}
}
