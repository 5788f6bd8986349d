package dispatchbench

// The job graph scenario: a fan-out/fan-in graph of N nodes (a root, N-2
// children of it, and a sink that waits for all of them) through the
// dispatcher to a no-op HTTP service, from the graph's enqueue to the
// sink's result, next to the same N jobs enqueued one by one (no graph)
// through the same dispatcher: the ratio is what the graph's bookkeeping
// costs (node records, readiness reads on the jobs bucket's leader, one
// compare-and-set per start).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/prometheus/client_golang/prometheus"
)

// GraphOptions size a graph run: Options' Capacity, Timeout (per run)
// and Logger, the graph's nodes and the rounds.
type GraphOptions struct {
	Options
	Nodes  int // nodes of the graph, and jobs of the flat run; default 1000
	Rounds int // flat and graph runs alternate this many times; default 1
}

func (o GraphOptions) withDefaults() GraphOptions {
	o.Options = o.Options.withDefaults()
	if o.Nodes < 3 {
		o.Nodes = 1000
	}
	o.Rounds = max(o.Rounds, 1)
	return o
}

// GraphReport is what RunGraph measured: the best of its rounds.
type GraphReport struct {
	Nodes    int          `json:"nodes"`
	Capacity int          `json:"capacity"`
	Graph    Throughput   `json:"graph"` // the fan-out/fan-in graph, enqueue to the sink's result
	Flat     Throughput   `json:"flat"`  // the same number of independent jobs, enqueue to the last result
	Ratio    float64      `json:"ratio"` // Graph / Flat
	Rounds   []GraphRound `json:"rounds"`
}

// GraphRound is one flat run and one graph run.
type GraphRound struct {
	Graph Throughput `json:"graph"`
	Flat  Throughput `json:"flat"`
}

// String is the report in one line.
func (r GraphReport) String() string {
	return fmt.Sprintf("job graph: %d-node fan-out/fan-in at capacity %d: %.0f nodes/s (%s); the same %d jobs without a graph: %.0f jobs/s (%s); graph at %.0f%% of it",
		r.Nodes, r.Capacity, r.Graph.PerSecond, r.Graph.Elapsed.Round(time.Millisecond), r.Nodes, r.Flat.PerSecond, r.Flat.Elapsed.Round(time.Millisecond), 100*r.Ratio)
}

// RunGraph runs the scenario on deps' NATS connection (the hub's streams
// must exist). It runs a dispatcher of its own with a service of its own
// name, and purges its messages and consumer when it is done; the job
// records stay in the jobs bucket until their retention ends.
func RunGraph(ctx context.Context, deps service.Deps, o GraphOptions) (GraphReport, error) {
	o = o.withDefaults()
	noop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"n":1}`)
	}))
	defer noop.Close()
	svc := "graphbench-" + strings.ReplaceAll(events.NewID(), "-", "")[24:]
	cfg := dispatch.DefaultConfig()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Services = map[string]channel.Config{svc: {URL: noop.URL, Capacity: o.Capacity}}
	cfg.Graphs.MaxNodes = max(cfg.Graphs.MaxNodes, o.Nodes)
	deps.Logger, deps.Registry = o.Logger, prometheus.NewRegistry()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout*time.Duration(2*o.Rounds+1))
	defer cancel()
	d, err := dispatch.New(ctx, deps, cfg)
	if err != nil {
		return GraphReport{}, err
	}
	defer scenario{deps: deps}.cleanup(map[string]string{"graph": svc})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	defer func() { stop(); <-done }()

	rep := GraphReport{Nodes: o.Nodes, Capacity: o.Capacity}
	// Warm up: buckets' first blocks, connections, the heap.
	if _, err := flat(ctx, deps, svc, min(o.Nodes, 200)); err != nil {
		return rep, fmt.Errorf("warm-up: %w", err)
	}
	for range o.Rounds {
		var rd GraphRound
		if rd.Flat, err = flat(ctx, deps, svc, o.Nodes); err != nil {
			return rep, fmt.Errorf("flat jobs: %w", err)
		}
		if rd.Graph, err = fanGraph(ctx, deps, svc, o.Nodes); err != nil {
			return rep, fmt.Errorf("graph: %w", err)
		}
		rep.Rounds = append(rep.Rounds, rd)
		if rd.Graph.PerSecond > rep.Graph.PerSecond {
			rep.Graph = rd.Graph
		}
		if rd.Flat.PerSecond > rep.Flat.PerSecond {
			rep.Flat = rd.Flat
		}
	}
	rep.Ratio = rep.Graph.PerSecond / rep.Flat.PerSecond
	return rep, nil
}

// fanGraph enqueues root → n-2 pages → sink and waits for the sink's result.
func fanGraph(ctx context.Context, deps service.Deps, svc string, n int) (Throughput, error) {
	g := jobs.Graph{Name: "fan", Nodes: map[string]jobs.Node{
		"root": {Service: svc, Task: "split", Job: jobs.Job{Payload: []byte(`{"n":1}`)}},
		"sink": {Service: svc, Task: "join", PayloadFrom: "[.parents[].response.n] | add"},
	}}
	for i := range n - 2 {
		id := fmt.Sprintf("p%d", i)
		g.Nodes[id] = jobs.Node{Service: svc, Task: "page", Job: jobs.Job{Payload: []byte(`{"n":1}`)}}
		g.Edges = append(g.Edges, [2]string{"root", id}, [2]string{id, "sink"})
	}
	results, err := countResults(deps.Conn, events.ResultSubject(svc, "join"))
	if err != nil {
		return Throughput{}, err
	}
	defer results.stop()
	start, cpu0 := time.Now(), cpuTime()
	if _, err := jobs.EnqueueGraph(ctx, deps.JS, g, jobs.GraphLimits{MaxNodes: n}); err != nil {
		return Throughput{}, err
	}
	if err := results.wait(ctx, 1); err != nil {
		return Throughput{}, err
	}
	return throughput(n, time.Since(start), cpuTime()-cpu0), nil
}

// flat enqueues n jobs (enqueueMany) and waits for their results.
func flat(ctx context.Context, deps service.Deps, svc string, n int) (Throughput, error) {
	results, err := countResults(deps.Conn, events.ResultSubject(svc, "work"))
	if err != nil {
		return Throughput{}, err
	}
	defer results.stop()
	start, cpu0 := time.Now(), cpuTime()
	if err := enqueueMany(ctx, deps, svc, n); err != nil {
		return Throughput{}, err
	}
	if err := results.wait(ctx, n); err != nil {
		return Throughput{}, err
	}
	return throughput(n, time.Since(start), cpuTime()-cpu0), nil
}
