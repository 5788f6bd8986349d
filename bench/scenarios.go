package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch/dispatchbench"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/insightpulse/pulsehub/services/ingester/ingestbench"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
	"gopkg.in/yaml.v3"
)

const benchSecret = "bench webhook secret"

// runEndToEnd measures webhook in → Odoo fake written (no fake latency),
// one delivery at a time: at the writer's default linger (it waits up to
// 20 ms for more events to batch with), and with no linger.
func runEndToEnd(ctx context.Context, o Options, r *Report) error {
	var err error
	if r.EndToEnd, err = endToEnd(ctx, o, writer.DefaultLinger); err != nil {
		return err
	}
	r.EndToEndNoLinger, err = endToEnd(ctx, o, 0)
	return err
}

func endToEnd(ctx context.Context, o Options, linger time.Duration) (Latency, error) {
	env, err := startNATS()
	if err != nil {
		return Latency{}, err
	}
	defer env.close()
	fake, err := odootest.NewServer()
	if err != nil {
		return Latency{}, err
	}
	defer fake.Close()
	url, stop, err := startIngestAndWriter(ctx, env, fake, linger)
	if err != nil {
		return Latency{}, err
	}
	l, err := measureEndToEnd(ctx, o, fake, url, linger)
	// A service that failed while measured invalidates the numbers.
	if serr := stop(); serr != nil {
		return Latency{}, fmt.Errorf("services stopped with: %w", serr)
	}
	return l, err
}

// measureEndToEnd sends o.Latency deliveries one at a time and times each
// until its task is in the fake.
func measureEndToEnd(ctx context.Context, o Options, fake *odootest.Server, url string, linger time.Duration) (Latency, error) {
	issue := map[string]any{}
	if err := json.Unmarshal(issuePayload, &issue); err != nil {
		return Latency{}, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	lat := make([]time.Duration, 0, o.Latency)
	for i := range o.Latency {
		issue["issue"].(map[string]any)["id"] = 900000 + i
		body, _ := json.Marshal(issue)
		before := fake.Count("project.task")
		start := time.Now()
		if err := post(ctx, client, url, "issues", fmt.Sprintf("e2e-%d-%d", time.Now().UnixNano(), i), body); err != nil {
			return Latency{}, err
		}
		for fake.Count("project.task") == before {
			if time.Since(start) > 30*time.Second {
				return Latency{}, fmt.Errorf("delivery %d not in Odoo after 30s", i)
			}
			time.Sleep(50 * time.Microsecond) // polling the fake for the write, not waiting for a duration
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	l := Latency{Samples: len(lat), Linger: linger, P50: lat[len(lat)/2], P99: lat[min(len(lat)*99/100, len(lat)-1)], Max: lat[len(lat)-1]}
	fmt.Fprintf(o.Log, "  %d deliveries one at a time, linger %s: p50 %s, p99 %s\n", len(lat), linger, l.P50, l.P99)
	return l, nil
}

//go:embed testdata/issues.opened.payload.json
var issuePayload []byte

// startIngestAndWriter runs an ingester and a writer (one route, GitHub
// issues to project tasks) until the returned stop is called.
func startIngestAndWriter(ctx context.Context, env *natsEnv, fake *odootest.Server, linger time.Duration) (string, func() error, error) {
	var spec route.Spec
	if err := yaml.Unmarshal([]byte(`
name: github-issues-to-tasks
from: {stream: GITHUB, subjects: ["github.issues.*"]}
odoo:
  model: project.task
  op: upsert
  key: {field: x_github_issue_id, value: .issue.id}
  values: {name: .issue.title, description: .issue.body}
`), &spec); err != nil {
		return "", nil, err
	}
	ic := ingester.DefaultConfig()
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	ic.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	ic.GitHub.WebhookSecrets = []config.Secret{config.NewSecret(benchSecret)}
	wc := writer.DefaultConfig()
	wc.HTTP.Listen = "127.0.0.1:0"
	wc.Linger = linger
	wc.Odoo = map[string]odoo.Config{"default": fake.Config(odoo.TransportXMLRPC)}
	wc.Routes = []route.Spec{spec}
	ctx, cancel := context.WithCancel(ctx)
	errs := make(chan error, 2)
	go func() { errs <- ingester.Run(ctx, env.deps, ic) }()
	go func() { errs <- writer.Run(ctx, env.deps, wc) }()
	stop := func() error {
		cancel()
		return errors.Join(<-errs, <-errs)
	}
	base := "http://" + ic.HTTP.Listen
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return "", nil, errors.Join(fmt.Errorf("ingester not healthy: %v", err), stop())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return base + "/github", stop, nil
}

func post(ctx context.Context, client *http.Client, url, event, guid string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", guid)
	req.Header.Set(githubhook.SignatureHeader, githubhook.SignatureValue(benchSecret, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("delivery %s answered %d", guid, resp.StatusCode)
	}
	return nil
}

// runMemory starts `hub run` as its own process, reads its RSS idle, runs
// scenario 1's HTTP load at concurrency 64 against it, and reads it again.
func runMemory(ctx context.Context, o Options, r *Report) error {
	if o.HubBinary == "" {
		fmt.Fprintln(o.Log, "  skipped: no hub binary")
		return nil
	}
	dir, err := os.MkdirTemp("", "hubbench-run")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ports := make([]int, 6)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, o.HubBinary, "run", "--data-dir", filepath.Join(dir, "data"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PULSEHUB_GITHUB_WEBHOOK_SECRET="+benchSecret, "PULSEHUB_LOG_LEVEL=warn",
		fmt.Sprintf("PULSEHUB_EMBEDDED_LISTEN=127.0.0.1:%d", ports[0]), fmt.Sprintf("PULSEHUB_EMBEDDED_MONITOR=127.0.0.1:%d", ports[1]),
		fmt.Sprintf("PULSEHUB_INGESTER_HTTP_LISTEN=127.0.0.1:%d", ports[2]), fmt.Sprintf("PULSEHUB_ODOOWRITER_HTTP_LISTEN=127.0.0.1:%d", ports[3]),
		fmt.Sprintf("PULSEHUB_DISPATCHER_HTTP_LISTEN=127.0.0.1:%d", ports[4]), fmt.Sprintf("PULSEHUB_HEALTHMON_HTTP_LISTEN=127.0.0.1:%d", ports[5]))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	if err := waitHealthy(base+"/health", 30*time.Second); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // idle means idle: let start-up allocations settle
	m := &Memory{Idle: rss(cmd.Process.Pid), Deliveries: 4 * o.Deliveries}
	b := ingestbench.Attach(nil, base+"/github", benchSecret)
	defer b.Close()
	if _, err := b.Run(ctx, ingestbench.Scenario{Mode: ingestbench.HTTP, Concurrency: 64, Deliveries: m.Deliveries, Payload: pushPayload}); err != nil {
		return err
	}
	m.AfterIngest = rss(cmd.Process.Pid)
	r.Memory = m
	fmt.Fprintf(o.Log, "  hub run RSS idle %s, after %d deliveries %s\n", mib(m.Idle), m.Deliveries, mib(m.AfterIngest))
	return nil
}

// runScale runs scenario 1 (HTTP, concurrency 64) and scenario 3's
// dispatcher at each size on a fresh server, with this process's RSS after each.
func runScale(ctx context.Context, o Options, r *Report) error {
	for _, n := range o.Scale {
		row := ScaleRow{N: n}
		env, err := startNATS()
		if err != nil {
			return err
		}
		b, err := ingestbench.Start(ctx, env.nc, env.js)
		if err == nil {
			var res ingestbench.Result
			res, err = b.Run(ctx, ingestbench.Scenario{Mode: ingestbench.HTTP, Concurrency: 64, Deliveries: n, Payload: pushPayload})
			row.IngestPerSec = res.PerSecond
			err = errors.Join(err, b.Close())
		}
		runtime.GC()
		row.IngestRSS = rss(os.Getpid())
		env.close()
		if err != nil {
			return err
		}
		if env, err = startNATS(); err != nil {
			return err
		}
		rep, err := dispatchbench.Run(ctx, env.deps, dispatchbench.Options{Jobs: n, Capacity: 64, FailingJobs: 1, Timeout: 30 * time.Minute})
		row.DispatchPerSec = rep.Dispatcher.PerSecond
		runtime.GC()
		row.DispatchRSS = rss(os.Getpid())
		env.close()
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Log, "  n=%d: ingest %.0f/s (RSS %s), dispatch %.0f jobs/s (RSS %s)\n", n, row.IngestPerSec, mib(row.IngestRSS), row.DispatchPerSec, mib(row.DispatchRSS))
		r.Scale = append(r.Scale, row)
	}
	return nil
}

func waitHealthy(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy within %s: %v", url, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
