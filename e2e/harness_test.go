package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/insightpulse/pulsehub/services/hub/root"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// wait bounds every wait on a condition in this suite.
const wait = 60 * time.Second

const (
	webhookSecret = "e2e webhook secret"
	odooToken     = "e2e-odoo-source-token-0123456789"
)

// routes are the suite's routes, as an operator writes them (the same as
// deploy/hub.example.yaml, with the source name this suite uses).
const routes = `
routes:
  - name: github-issues-to-tasks
    from: {stream: GITHUB, subjects: ["github.issues.*"]}
    retry: {max_attempts: 50, initial_interval: 50ms, max_interval: 1s}
    odoo:
      model: project.task
      op: upsert
      key: {field: x_github_issue_id, value: .issue.id}
      values: {name: .issue.title, description: .issue.body}
  - name: expense-ocr
    from: {stream: ODOO, subjects: ["odoo.event.hr_expense.expenses"]}
    retry: {initial_interval: 50ms, max_interval: 1s}
    dispatch:
      service: ocr
      task: extract
      path: /extract
      body: '{attachment_id: .attachment_id, expense_id: ._id}'
  - name: expense-ocr-result
    from: {stream: RESULTS, subjects: ["results.ocr.extract"]}
    retry: {initial_interval: 50ms, max_interval: 1s}
    odoo:
      model: hr.expense
      op: write
      id: .request.expense_id
      values: {x_ocr_total: .response.total, x_ocr_vendor: .response.vendor}
`

// Hub is the hub's services running in-process against a real JetStream
// (one server or a cluster), the shared Odoo fake and an OCR service.
type Hub struct {
	t        *testing.T
	NATSURL  string
	JS       jetstream.JetStream
	Odoo     *odootest.Server
	OCR      *OCRService
	Config   hubconfig.Config
	Ingester string // base URL of the ingester

	mu       sync.Mutex
	services map[string]*running
	client   *http.Client
	users    *natstest.Users         // the server's users; nil when it requires none
	log      *natstest.PermissionLog // every service log line, read for permission violations
	out      io.Writer               // Options.Log
	yml      string                  // the config file, as Options.Process hands it to the hub process
	proc     *process                // the hub process (Options.Process); nil when not running
}

type running struct {
	cancel context.CancelFunc
	done   chan error
}

// Options tune NewHub.
type Options struct {
	NATSURL  string                  // an existing server or cluster; default a fresh single server requiring the hub's users
	Users    *natstest.Users         // the users NATSURL requires, if it requires them
	Replicas int                     // stream replicas (3 on a cluster)
	Models   []odootest.Model        // extra Odoo models or fields
	Tune     func(*hubconfig.Config) // change the config before the services start
	Extra    string                  // more YAML appended to the config
	Log      io.Writer               // the services' JSON log (as `hub run` writes it); default discarded, or stderr with E2E_LOG set
	// Process runs the ingester, the writer and the dispatcher in one hub
	// process of their own (this test binary started again, see
	// process_test.go) instead of in this one, so a test can kill -9 it.
	// Needs NATSURL without Users, and no Tune.
	Process bool
}

// NewHub starts JetStream (unless given), the fakes, and every service.
func NewHub(t *testing.T, o Options) *Hub {
	t.Helper()
	h := &Hub{t: t, services: map[string]*running{}, client: &http.Client{Timeout: 30 * time.Second},
		NATSURL: o.NATSURL, users: o.Users, log: &natstest.PermissionLog{}, out: o.Log}
	if h.NATSURL == "" {
		// Every service connects with its own user, so every flow below
		// also checks that natsauth grants what the services use.
		h.users = natstest.NewUsers(t)
		opts := natstest.Options(t.TempDir())
		h.users.Require(opts)
		srv := natstest.Start(t, opts)
		t.Cleanup(func() { natstest.Shutdown(srv) })
		h.NATSURL = srv.ClientURL()
	}
	var admin []nats.Option
	if h.users != nil {
		admin = h.users.Options(natsauth.Operator)
	}
	_, h.JS = natstest.Connect(t, h.NATSURL, admin...)
	h.Odoo = odootest.New(t, odootest.WithModels(o.Models...))
	h.OCR = NewOCRService(t)
	h.Config = h.config(t, o)
	natstest.EnsureStreams(t, h.JS, h.Config.Streams)
	h.Ingester = "http://" + h.Config.Ingester.HTTP.Listen
	if o.Process {
		if o.NATSURL == "" || o.Users != nil || o.Tune != nil {
			t.Fatal("e2e: Options.Process needs NATSURL without Users, and no Tune")
		}
		h.StartProcess()
	} else {
		for _, name := range []string{"odoowriter", "dispatcher", "ingester"} {
			h.Start(name)
		}
		// Every service has started (its consumers and buckets exist)
		// before a test cuts NATS or kills a server: one still starting
		// then would fail its start, not the test's promise.
		h.waitHealthy("http://" + h.Config.Writer.HTTP.Listen + "/health")
		h.waitHealthy("http://" + h.Config.Dispatcher.HTTP.Listen + "/health")
	}
	h.waitHealthy(h.Ingester + "/health")
	t.Cleanup(func() {
		h.StopAll()
		for _, v := range h.log.Lines() {
			t.Errorf("a service hit a NATS permission it lacks: %s", v)
		}
	})
	return h
}

// config builds the hub config through the same loader and validation as
// `hub run`, on free loopback ports.
func (h *Hub) config(t *testing.T, o Options) hubconfig.Config {
	t.Helper()
	replicas := max(o.Replicas, 1)
	yml := fmt.Sprintf(`
nats: {url: %q}
streams: {replicas: %d}
odoo:
  default: {url: %q, database: %q, login: admin, password: %q}
ingester:
  http: {listen: "127.0.0.1:%d"}
  github: {webhook_secrets: [%q]}
  odoo_sources:
    expenses: {token: %q, model: hr.expense, instance: default}
odoowriter:
  http: {listen: "127.0.0.1:%d"}
  linger: 5ms
dispatcher:
  http: {listen: "127.0.0.1:%d"}
  services:
    ocr: {url: %q, capacity: 4, timeout: 10s, retry: {initial_interval: 50ms, max_interval: 1s}}
healthmon:
  http: {listen: "127.0.0.1:%d"}
`, h.NATSURL, replicas, h.Odoo.URL, h.Odoo.Database, odootest.AdminPassword, natstest.FreePort(t), webhookSecret, odooToken,
		natstest.FreePort(t), natstest.FreePort(t), h.OCR.URL, natstest.FreePort(t)) + routes + o.Extra
	h.yml = yml
	c, err := loadConfig(yml)
	if err != nil {
		t.Fatalf("e2e config: %v", err)
	}
	if o.Tune != nil {
		o.Tune(&c)
		if err := c.Validate().Err(); err != nil {
			t.Fatalf("e2e config after Tune: %v", err)
		}
	}
	return c
}

// loadConfig loads yml through the same loader and validation as `hub
// run`, with no environment overrides.
func loadConfig(yml string) (hubconfig.Config, error) {
	c := hubconfig.Default()
	err := config.LoadBytes([]byte(yml), &c, config.Options{Strict: true, LookupEnv: func(string) (string, bool) { return "", false }})
	return c, err
}

// Start runs one service (ingester, odoowriter, dispatcher, healthmon)
// the way a deployment does: through the composition root, as
// `hub run --only <name> --nats-url <the server or cluster>`.
func (h *Hub) Start(name string) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	c := h.Config
	if h.users != nil {
		c.NATS.NKeySeed = config.NewSecret(h.users.Seed(name))
	}
	o := root.Options{Config: c, Only: []string{name}, Logger: h.logger()}
	go func() { r.done <- root.Run(ctx, o) }()
	h.mu.Lock()
	h.services[name] = r
	h.mu.Unlock()
}

// Stop cancels one service and waits for its graceful shutdown.
func (h *Hub) Stop(name string) {
	h.t.Helper()
	h.mu.Lock()
	r := h.services[name]
	delete(h.services, name)
	h.mu.Unlock()
	if r == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			h.t.Errorf("%s stopped with: %v", name, err)
		}
	case <-time.After(wait):
		h.t.Errorf("%s did not stop within %s", name, wait)
	}
}

// StopAll stops every running service.
func (h *Hub) StopAll() {
	for _, name := range []string{"ingester", "dispatcher", "odoowriter"} {
		h.Stop(name)
	}
	h.StopProcess()
}

// logger is the services' JSON log, built as `hub run` builds it: every
// line is read for permission violations, and also written to Options.Log
// and, with E2E_LOG set, to stderr.
func (h *Hub) logger() *slog.Logger {
	w, level := io.Writer(h.log), "info"
	if h.out != nil {
		w, level = io.MultiWriter(w, h.out), "debug"
	}
	if os.Getenv("E2E_LOG") != "" {
		w, level = io.MultiWriter(w, os.Stderr), "debug"
	}
	return service.NewLogger(w, service.LogConfig{Level: level}, "")
}

func (h *Hub) waitHealthy(url string) {
	h.t.Helper()
	natstest.WaitFor(h.t, wait, url+" healthy", func() bool {
		resp, err := h.client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Delivery is one GitHub webhook delivery.
type Delivery struct {
	Event string
	GUID  string
	Body  []byte
}

// Send POSTs a signed delivery to the ingester and returns the status.
func (h *Hub) Send(d Delivery) (int, error) {
	req, err := http.NewRequest(http.MethodPost, h.Ingester+"/github", bytes.NewReader(d.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", d.Event)
	req.Header.Set("X-GitHub-Delivery", d.GUID)
	req.Header.Set("X-GitHub-Hook-ID", "4242")
	req.Header.Set("X-Hub-Signature-256", githubhook.SignatureValue(webhookSecret, d.Body))
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// MustSend sends and requires a 2xx.
func (h *Hub) MustSend(d Delivery) {
	h.t.Helper()
	code, err := h.Send(d)
	if err != nil || code/100 != 2 {
		h.t.Fatalf("delivery %s: %d %v", d.GUID, code, err)
	}
}

// fixture reads a GitHub payload from testdata/github (see its README).
func fixture(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "github", path))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// IssueDelivery is the fixture's `issues` delivery for issue id n with title.
func IssueDelivery(t *testing.T, action string, n int, title string) Delivery {
	t.Helper()
	p := fixture(t, "issues/opened.payload.json")
	p["action"] = action
	issue := p["issue"].(map[string]any)
	issue["id"] = n
	issue["number"] = n
	issue["title"] = title
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return Delivery{Event: "issues", GUID: fmt.Sprintf("%08d-e2e0-4000-8000-%012d", n, time.Now().UnixNano()%1e12), Body: b}
}

// Tasks maps x_github_issue_id to the fake's project.task records.
func (h *Hub) Tasks() map[int64][]map[string]any {
	out := map[int64][]map[string]any{}
	for _, r := range h.Odoo.Records("project.task") {
		id := odoo.Record(r).Int("x_github_issue_id")
		out[id] = append(out[id], r)
	}
	return out
}

// WaitTasks waits until n distinct issues have tasks.
func (h *Hub) WaitTasks(n int) {
	h.t.Helper()
	natstest.WaitFor(h.t, wait, fmt.Sprintf("%d tasks in Odoo", n), func() bool { return len(h.Tasks()) >= n })
}

// WaitIdle waits until a route has nothing pending or unacknowledged.
func (h *Hub) WaitIdle(streamName, route string) {
	h.t.Helper()
	natstest.WaitFor(h.t, wait, "route "+route+" idle", func() bool {
		ri, err := stream.RouteState(context.Background(), h.JS, streamName, route)
		return err == nil && ri.Pending == 0 && ri.AckPending == 0
	})
}
