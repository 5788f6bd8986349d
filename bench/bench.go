package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch/dispatchbench"

	"github.com/insightpulse/pulsehub/services/hub/embedded"
	"github.com/insightpulse/pulsehub/services/ingester/ingestbench"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pushPayload is GitHub's `push` example delivery (7 KB), from the
// octokit/webhooks fixtures (MIT, see testdata/LICENSE).
//
//go:embed testdata/push.payload.json
var pushPayload []byte

// Options choose the sizes.
type Options struct {
	Deliveries int    // per ingest measurement; default 5000
	Events     int    // writer scenario: min(Events, 2000) upserts; default 5000
	Jobs       int    // dispatcher scenario; default 5000
	GraphNodes int    // job graph scenario; default 1000
	Latency    int    // end-to-end samples; default 300
	Scale      []int  // scale-curve sizes; default 10k and 100k
	HubBinary  string // `hub` executable for the memory scenario; "" skips it
	Rounds     int    // rounds of the durability scenario and of jobs vs River; default 3
	PeerJobs   int    // jobs per peer round of jobs vs River; default 20000
	HubProfile string // a file for the CPU profile of the dispatcher's last round in jobs vs River
	Only       []int  // the scenarios to run, by number; nil = all
	// PeerDuration is each measured round of scenario 8 (ingest vs
	// Benthos); default 60s (2s with Quick).
	PeerDuration time.Duration
	Log          io.Writer
}

// Quick is a small run that finishes in well under a minute (a smoke test).
func Quick() Options {
	return Options{Deliveries: 300, Events: 300, Jobs: 300, GraphNodes: 100, Latency: 30, Scale: []int{1000}, Rounds: 1, PeerJobs: 300, PeerDuration: 2 * time.Second}
}

func (o *Options) defaults() {
	if o.Deliveries <= 0 {
		o.Deliveries = 5000
	}
	if o.Events <= 0 {
		o.Events = 5000
	}
	if o.Jobs <= 0 {
		o.Jobs = 5000
	}
	if o.Latency <= 0 {
		o.Latency = 300
	}
	if len(o.Scale) == 0 {
		o.Scale = []int{10_000, 100_000}
	}
	if o.Rounds <= 0 {
		o.Rounds = 3
	}
	if o.PeerJobs <= 0 {
		o.PeerJobs = 20_000
	}
	if o.PeerDuration <= 0 {
		o.PeerDuration = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Report is one run's numbers.
type Report struct {
	Machine  Machine              `json:"machine"`
	Ingest   []IngestRow          `json:"ingest"`
	Writer   WriterRow            `json:"writer"`
	Dispatch dispatchbench.Report `json:"dispatch"`
	EndToEnd Latency              `json:"end_to_end"`
	// EndToEndNoLinger is scenario 4 with the writer's linger at 0.
	EndToEndNoLinger Latency    `json:"end_to_end_no_linger"`
	Memory           *Memory    `json:"memory,omitempty"`
	Scale            []ScaleRow `json:"scale"`
	// Graph is scenario 11.
	Graph dispatchbench.GraphReport `json:"graph"`
	// Durability is scenario 7, one row per embedded.sync_interval.
	Durability []DurabilityRow `json:"durability"`
	Rounds     int             `json:"durability_rounds"`
	// Tracing is scenario 8, one row per tracing setting (Rounds rounds).
	Tracing []TracingRow `json:"tracing"`
	// JobsPeers is scenario 9, the dispatcher vs River.
	JobsPeers *JobsPeers `json:"jobs_peers,omitempty"`
	Only      []int      `json:"only,omitempty"` // the scenarios run; empty = all
	// Peers is scenario 10, the ingester against a Benthos peer.
	Peers *IngestPeers `json:"ingest_peers,omitempty"`
}

// Machine says where the numbers come from.
type Machine struct {
	Cores int       `json:"cores"`
	Go    string    `json:"go"`
	OS    string    `json:"os"`
	When  time.Time `json:"when"`
}

// IngestRow is scenario 1 at one concurrency.
type IngestRow struct {
	Concurrency int                `json:"concurrency"`
	HTTP        ingestbench.Result `json:"http"`
	Direct      ingestbench.Result `json:"direct"`
	Noop        ingestbench.Result `json:"noop_http"` // the same requests to a handler that does nothing
	Ratio       float64            `json:"ratio"`     // HTTP / Direct: the ratio
	// Floor is what an ingester that only received the request and
	// published it could reach on this machine, 1/(1/noop + 1/direct),
	// and FloorRatio is HTTP / Floor.
	Floor      float64 `json:"floor"`
	FloorRatio float64 `json:"floor_ratio"`
}

// Latency is scenario 4.
type Latency struct {
	Samples int           `json:"samples"`
	Linger  time.Duration `json:"linger_ns"` // the writer's linger
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
}

// Memory is scenario 5 (resident set sizes in bytes).
type Memory struct {
	Idle        uint64 `json:"idle_rss"`
	AfterIngest uint64 `json:"after_ingest_rss"`
	Deliveries  int    `json:"deliveries"`
}

// ScaleRow is scenario 6 at one size.
type ScaleRow struct {
	N              int     `json:"n"`
	IngestPerSec   float64 `json:"ingest_per_sec"`
	IngestRSS      uint64  `json:"ingest_rss"`
	DispatchPerSec float64 `json:"dispatch_per_sec"`
	DispatchRSS    uint64  `json:"dispatch_rss"`
}

// scenarios are the bench's scenarios, numbered from 1 in this order.
var scenarios = []struct {
	name string
	fn   func(context.Context, Options, *Report) error
}{
	{"1 ingest vs raw JetStream", runIngest},
	{"2 writer vs Odoo's ceiling", runWriter},
	{"3 dispatcher", runDispatch},
	{"4 end to end", runEndToEnd},
	{"5 memory of hub run", runMemory},
	{"6 scale curve", runScale},
	{"7 durability (sync_interval)", runDurability},
	{"8 tracing overhead", runTracing},
	{"9 jobs vs River", runJobsPeers},
	{"10 ingest vs Benthos", runIngestPeers},
	{"11 job graph (1,000-node fan-out/fan-in)", runGraph},
}

// Run runs every scenario and reports progress lines to o.Log.
func Run(ctx context.Context, o Options) (Report, error) {
	o.defaults()
	r := Report{Machine: Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, When: time.Now().UTC()}, Rounds: o.Rounds, Only: o.Only}
	for i, s := range scenarios {
		if len(o.Only) > 0 && !slices.Contains(o.Only, i+1) {
			continue
		}
		fmt.Fprintf(o.Log, "scenario %s ...\n", s.name)
		start := time.Now()
		if err := s.fn(ctx, o, &r); err != nil {
			return r, fmt.Errorf("scenario %s: %w", s.name, err)
		}
		fmt.Fprintf(o.Log, "scenario %s done in %s\n", s.name, time.Since(start).Round(time.Millisecond))
	}
	return r, nil
}

// natsEnv is an embedded JetStream in a temporary directory.
type natsEnv struct {
	srv  *server.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	dir  string
	deps service.Deps
}

func startNATS() (*natsEnv, error) { return startNATSSync(embedded.DefaultSyncInterval) }

// startNATSSync is startNATS with JetStream syncing its store as
// embedded.sync_interval says.
func startNATSSync(sync string) (*natsEnv, error) {
	dir, err := os.MkdirTemp("", "hubbench")
	if err != nil {
		return nil, err
	}
	c := embedded.DefaultConfig()
	c.Listen, c.Monitor, c.DataDir, c.ServerName, c.Sync = "127.0.0.1:-1", "off", dir, "hubbench", sync
	c.Auth = embedded.AuthNone // the scenarios connect as one client
	srv, err := embedded.Start(context.Background(), c, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// In-process, as `hub run` connects its services to its embedded server.
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.MaxReconnects(-1))
	if err != nil {
		embedded.Shutdown(srv)
		os.RemoveAll(dir)
		return nil, err
	}
	js, _ := jetstream.New(nc)
	e := &natsEnv{srv: srv, nc: nc, js: js, dir: dir}
	e.deps = service.Deps{Conn: nc, JS: js, Logger: slog.New(slog.DiscardHandler), Registry: service.NewRegistry(), Streams: stream.DefaultConfig()}
	if _, err := stream.Ensure(context.Background(), js, stream.Specs(stream.DefaultConfig())...); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *natsEnv) close() {
	e.nc.Close()
	embedded.Shutdown(e.srv)
	os.RemoveAll(e.dir)
}

func runIngest(ctx context.Context, o Options, r *Report) error {
	env, err := startNATS()
	if err != nil {
		return err
	}
	defer env.close()
	b, err := ingestbench.Start(ctx, env.nc, env.js)
	if err != nil {
		return err
	}
	defer b.Close()
	for _, c := range []int{1, 16, 64} {
		row := IngestRow{Concurrency: c}
		if row.HTTP, err = b.Run(ctx, ingestbench.Scenario{Mode: ingestbench.HTTP, Concurrency: c, Deliveries: o.Deliveries, Payload: pushPayload}); err != nil {
			return err
		}
		if row.Direct, err = b.Run(ctx, ingestbench.Scenario{Mode: ingestbench.Direct, Concurrency: c, Deliveries: o.Deliveries, Payload: pushPayload}); err != nil {
			return err
		}
		if row.Noop, err = b.Run(ctx, ingestbench.Scenario{Mode: ingestbench.NoopHTTP, Concurrency: c, Deliveries: o.Deliveries, Payload: pushPayload}); err != nil {
			return err
		}
		row.Ratio = row.HTTP.PerSecond / row.Direct.PerSecond
		row.Floor = 1 / (1/row.Noop.PerSecond + 1/row.Direct.PerSecond)
		row.FloorRatio = row.HTTP.PerSecond / row.Floor
		fmt.Fprintf(o.Log, "  %s\n  %s\n  %s\n", row.HTTP, row.Direct, row.Noop)
		r.Ingest = append(r.Ingest, row)
	}
	return nil
}

// runGraph is scenario 11: a fan-out/fan-in graph of o.GraphNodes nodes
// next to as many independent jobs, flat and graph alternating o.Rounds
// times on one server.
func runGraph(ctx context.Context, o Options, r *Report) error {
	env, err := startNATS()
	if err != nil {
		return err
	}
	defer env.close()
	n := o.GraphNodes
	if n <= 0 {
		n = 1000
	}
	r.Graph, err = dispatchbench.RunGraph(ctx, env.deps, dispatchbench.GraphOptions{Nodes: n, Rounds: o.Rounds, Options: dispatchbench.Options{Capacity: 64}})
	fmt.Fprintf(o.Log, "  %s\n", r.Graph)
	return err
}

func runDispatch(ctx context.Context, o Options, r *Report) error {
	env, err := startNATS()
	if err != nil {
		return err
	}
	defer env.close()
	r.Dispatch, err = dispatchbench.Run(ctx, env.deps, dispatchbench.Options{Jobs: o.Jobs, Capacity: 64})
	fmt.Fprintf(o.Log, "  %s\n", r.Dispatch)
	return err
}
