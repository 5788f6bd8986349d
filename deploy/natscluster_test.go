package deploy

// The 3-node cluster of deploy/nats, run for real: TLS 1.3 with the
// certificates of cmd/natssecrets, nobody in without an nkey, and each of
// the four services, run through the composition root as its container
// runs it (`hub run --only <service>` with its own seed), able to do its
// work and nothing else.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/deploy/natssecrets"
	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/insightpulse/pulsehub/services/hub/root"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// deployCluster is the three nodes of deploy/nats on loopback.
type deployCluster struct {
	secrets string // cmd/natssecrets' files
	res     natssecrets.Result
	urls    string
	servers []*server.Server
}

// startDeployCluster starts three in-process servers from deploy/nats's
// files (ports and store directories rewritten to free ones, the routes to
// loopback) and waits for a meta leader.
func startDeployCluster(t *testing.T) *deployCluster {
	t.Helper()
	dir, res := natsSecrets(t)
	c := &deployCluster{secrets: dir, res: res}
	files := natsConfigs(t)
	opts := make([]*server.Options, len(files))
	clusterPorts := map[string]int{}
	for i, f := range files {
		opts[i] = loadNATSConf(t, f, dir)
		clusterPorts[opts[i].ServerName] = natstest.FreePort(t)
	}
	var urls []string
	for _, o := range opts {
		o.Host, o.Port, o.HTTPPort = "127.0.0.1", natstest.FreePort(t), -1
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", clusterPorts[o.ServerName]
		o.StoreDir = t.TempDir()
		o.NoLog, o.NoSigs = true, true
		var routes []*url.URL
		for _, r := range o.Routes {
			port, ok := clusterPorts[r.Hostname()]
			if !ok {
				t.Fatalf("%s routes to unknown node %s", o.ServerName, r.Host)
			}
			u, _ := url.Parse(fmt.Sprintf("nats-route://127.0.0.1:%d", port))
			routes = append(routes, u)
		}
		o.Routes = routes
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	for _, o := range opts {
		s := natstest.Start(t, o)
		t.Cleanup(func() { natstest.Shutdown(s) })
		c.servers = append(c.servers, s)
	}
	c.urls = strings.Join(urls, ",")
	natstest.WaitFor(t, natstest.Wait, "a meta leader", func() bool {
		for _, s := range c.servers {
			if s.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	return c
}

// caPool is the development CA.
func (c *deployCluster) caPool(t *testing.T) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(natssecrets.CAFile(c.secrets))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("ca.pem holds no certificate")
	}
	return pool
}

// dial connects as user ("" for nobody) with the CA, and tune's TLS
// settings; it returns the error instead of failing.
func (c *deployCluster) dial(t *testing.T, user string, tune func(*tls.Config), extra ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: c.caPool(t), MinVersion: tls.VersionTLS12}
	if tune != nil {
		tune(cfg)
	}
	opts := []nats.Option{nats.Secure(cfg), nats.Timeout(5 * time.Second), nats.NoReconnect()}
	if user != "" {
		opts = append(opts, (&natstestUsers{c.res}).options(user)...)
	}
	return nats.Connect(c.urls, append(opts, extra...)...)
}

// connect is dial as user, failing the test on an error.
func (c *deployCluster) connect(t *testing.T, user string, extra ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := c.dial(t, user, nil, extra...)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// natstestUsers authenticates with the generated seeds.
type natstestUsers struct{ res natssecrets.Result }

func (u *natstestUsers) options(user string) []nats.Option {
	opt, err := nkeyOption(u.res.Seeds[user])
	if err != nil {
		panic(err)
	}
	return []nats.Option{opt, nats.CustomInboxPrefix(natsauth.InboxPrefix(user))}
}

// asyncErrors records a connection's asynchronous errors.
type asyncErrors struct {
	mu   sync.Mutex
	errs []string
}

func (a *asyncErrors) option() nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		a.mu.Lock()
		a.errs = append(a.errs, err.Error())
		a.mu.Unlock()
	})
}

func (a *asyncErrors) saw(s string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.errs {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}

func TestNATSClusterFromTheConfigsLetsEachServiceDoOnlyItsWork(t *testing.T) {
	c := startDeployCluster(t)

	t.Run("TLS 1.3 with the CA only", func(t *testing.T) {
		if nc, err := c.dial(t, natsauth.Operator, func(cfg *tls.Config) { cfg.RootCAs = x509.NewCertPool() }); err == nil {
			nc.Close()
			t.Fatal("connected without the CA")
		} else if !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("without the CA: %v, want a certificate error", err)
		}
		if nc, err := c.dial(t, natsauth.Operator, func(cfg *tls.Config) { cfg.MaxVersion = tls.VersionTLS12 }); err == nil {
			nc.Close()
			t.Fatal("connected with TLS 1.2")
		}
		nc, err := c.dial(t, natsauth.Operator, nil)
		if err != nil {
			t.Fatalf("with the CA: %v", err)
		}
		defer nc.Close()
		st, err := nc.TLSConnectionState()
		if err != nil || st.Version != tls.VersionTLS13 {
			t.Fatalf("TLS state %v %v, want TLS 1.3", st.Version, err)
		}
	})

	t.Run("nobody in without an nkey", func(t *testing.T) {
		nc, err := c.dial(t, "", nil)
		if err == nil {
			nc.Close()
			t.Fatal("an unauthenticated client connected")
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Fatalf("unauthenticated: %v, want an authorization violation", err)
		}
		if nc, err = c.dial(t, natsauth.Operator, nil); err != nil {
			t.Fatalf("the operator: %v", err)
		}
		nc.Close()
	})

	h := newClusterHub(t, c)
	// The ingester's process ensures the streams with its own user, as R3.
	h.start(natsauth.Ingester)
	h.waitHealthy(h.cfg.Ingester.HTTP.Listen)
	_, opJS := c.connect(t, natsauth.Operator)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := opJS.Stream(ctx, events.StreamGitHub)
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("GITHUB: replicas %d, cluster %+v", info.Config.Replicas, info.Cluster)
	}

	t.Run("ingester", func(t *testing.T) {
		h.deliver(t, 1)
		natstest.WaitFor(t, natstest.Wait, "the delivery in GITHUB", func() bool { return count(ctx, t, opJS, events.StreamGitHub) == 1 })

		errs := &asyncErrors{}
		nc, js := c.connect(t, natsauth.Ingester, errs.option())
		if err := nc.Publish("odoo.cmd.x", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		_ = nc.Flush()
		natstest.WaitFor(t, natstest.Wait, "a permissions violation", func() bool { return errs.saw(`Permissions Violation for Publish to "odoo.cmd.x"`) })
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := js.DeleteStream(short, events.StreamGitHub); err == nil {
			t.Fatal("the ingester's user deleted GITHUB")
		}
		if count(ctx, t, opJS, events.StreamOdooCmd) != 0 || count(ctx, t, opJS, events.StreamGitHub) != 1 {
			t.Fatal("the ingester's user changed ODOO_CMD or GITHUB")
		}
		// The operator may do both.
		if _, err := opJS.Publish(ctx, "odoo.cmd.x", []byte(`{}`)); err != nil {
			t.Fatalf("operator publishes odoo.cmd.x: %v", err)
		}
		if _, err := opJS.CreateStream(ctx, jetstream.StreamConfig{Name: "SCRATCH", Subjects: []string{"scratch.>"}, Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		if err := opJS.DeleteStream(ctx, "SCRATCH"); err != nil {
			t.Fatalf("operator deletes a stream: %v", err)
		}
	})

	t.Run("odoowriter", func(t *testing.T) {
		h.start(natsauth.OdooWriter)
		h.waitHealthy(h.cfg.Writer.HTTP.Listen)
		natstest.WaitFor(t, natstest.Wait, "the issue written into Odoo", func() bool { return h.odoo.Count("project.task") == 1 })
		errs := &asyncErrors{}
		nc, _ := c.connect(t, natsauth.OdooWriter, errs.option())
		_ = nc.Publish("github.issues.opened", []byte(`{}`))
		_ = nc.Flush()
		natstest.WaitFor(t, natstest.Wait, "a permissions violation", func() bool { return errs.saw("Permissions Violation for Publish") })
	})

	t.Run("dispatcher", func(t *testing.T) {
		h.start(natsauth.Dispatcher)
		h.waitHealthy(h.cfg.Dispatcher.HTTP.Listen)
		natstest.WaitFor(t, natstest.Wait, "the OCR answer in RESULTS", func() bool { return count(ctx, t, opJS, events.StreamResults) == 1 })
		h.deliver(t, 2) // a new event, through both routes
		natstest.WaitFor(t, natstest.Wait, "the second issue written and answered", func() bool {
			return h.odoo.Count("project.task") == 2 && count(ctx, t, opJS, events.StreamResults) == 2
		})
		// An explicit job (jobs-ocr, the jobs bucket), enqueued by the operator.
		if _, _, err := jobs.Enqueue(ctx, opJS, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"id":3}`)}); err != nil {
			t.Fatal(err)
		}
		natstest.WaitFor(t, natstest.Wait, "the job's answer in RESULTS", func() bool { return count(ctx, t, opJS, events.StreamResults) == 3 })
		// A job cannot make the dispatcher publish where it may not.
		if _, _, err := jobs.Enqueue(ctx, opJS, "ocr", "extract", jobs.Job{Payload: json.RawMessage(`{"id":4}`),
			ResultSubject: "odoo.cmd.res_partner.unlink"}); err != nil {
			t.Logf("a job answering on odoo.cmd is refused at enqueue: %v", err)
			return
		}
		natstest.WaitFor(t, natstest.Wait, "the dispatcher refused odoo.cmd", func() bool { return h.log.Saw(`Publish to \"odoo.cmd.res_partner.unlink`) })
		if n := count(ctx, t, opJS, events.StreamOdooCmd); n != 1 {
			t.Fatalf("ODOO_CMD holds %d messages, want only the operator's", n)
		}
	})

	t.Run("healthmon", func(t *testing.T) {
		h.start(natsauth.Healthmon)
		var st map[string]string
		defer func() {
			if t.Failed() {
				t.Logf("healthmon's targets: %v", st)
			}
		}()
		natstest.WaitFor(t, natstest.Wait, "healthmon to see NATS and both routes", func() bool {
			st = h.targets()
			return st["nats"] == "ok" && st["route-issues-to-tasks"] == "ok" && st["route-issues-to-ocr"] == "ok"
		})
		_, js := c.connect(t, natsauth.Healthmon)
		if _, err := js.Stream(ctx, events.StreamDLQ); err != nil {
			t.Fatalf("healthmon reads stream info: %v", err)
		}
	})

	h.stopAll()
	for _, v := range h.log.Lines() {
		if !strings.Contains(v, "odoo.cmd.res_partner.unlink") { // the job above, refused on purpose
			t.Errorf("a service hit a NATS permission it lacks: %s", v)
		}
	}
}

func count(ctx context.Context, t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

const clusterWebhookSecret = "cluster webhook secret"

// clusterHub runs the hub's services on the cluster, each through the
// composition root with its own user, as the containers run them.
type clusterHub struct {
	t       *testing.T
	c       *deployCluster
	cfg     hubconfig.Config
	odoo    *odootest.Server
	log     *natstest.PermissionLog
	mu      sync.Mutex
	running []func()
}

func newClusterHub(t *testing.T, c *deployCluster) *clusterHub {
	t.Helper()
	h := &clusterHub{t: t, c: c, odoo: odootest.New(t), log: &natstest.PermissionLog{}}
	ocr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"total": 42}`)
	}))
	t.Cleanup(ocr.Close)
	yml := fmt.Sprintf(`
nats: {url: %q, ca_file: %q}
streams: {replicas: 3}
odoo:
  default: {url: %q, database: %q, login: admin, password: %q}
ingester:
  http: {listen: "127.0.0.1:%d"}
  github: {webhook_secrets: [%q]}
odoowriter:
  http: {listen: "127.0.0.1:%d"}
  linger: 5ms
dispatcher:
  http: {listen: "127.0.0.1:%d"}
  services:
    ocr: {url: %q, timeout: 10s}
healthmon:
  http: {listen: "127.0.0.1:%d"}
  interval: 500ms
routes:
  - name: issues-to-tasks
    from: {stream: GITHUB, subjects: ["github.issues.*"]}
    odoo:
      model: project.task
      op: upsert
      key: {field: x_github_issue_id, value: .issue.id}
      values: {name: .issue.title}
  - name: issues-to-ocr
    from: {stream: GITHUB, subjects: ["github.issues.*"]}
    dispatch: {service: ocr, task: extract, path: /extract, body: '{id: .issue.id}'}
`, c.urls, natssecrets.CAFile(c.secrets), h.odoo.URL, h.odoo.Database, odootest.AdminPassword,
		natstest.FreePort(t), clusterWebhookSecret, natstest.FreePort(t), natstest.FreePort(t), ocr.URL, natstest.FreePort(t))
	h.cfg = hubconfig.Default()
	if err := config.LoadBytes([]byte(yml), &h.cfg, config.Options{Strict: true, LookupEnv: func(string) (string, bool) { return "", false }}); err != nil {
		t.Fatalf("config: %v", err)
	}
	t.Cleanup(h.stopAll)
	return h
}

// start runs service as `hub run --only <service>` with its own seed, as
// PULSEHUB_NATS_NKEY_SEED gives it in its container.
func (h *clusterHub) start(svc string) {
	h.t.Helper()
	c := h.cfg
	c.NATS.NKeySeed = config.NewSecret(h.c.res.Seeds[svc])
	if err := c.ValidateFor([]string{svc}).Err(); err != nil {
		h.t.Fatalf("%s: %v", svc, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var w io.Writer = h.log
	if os.Getenv("DEPLOY_LOG") != "" {
		w = io.MultiWriter(os.Stderr, h.log)
	}
	logger := slog.New(slog.NewJSONHandler(w, nil))
	go func() { done <- root.Run(ctx, root.Options{Config: c, Only: []string{svc}, Logger: logger}) }()
	h.mu.Lock()
	h.running = append(h.running, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				h.t.Errorf("%s stopped with: %v", svc, err)
			}
		case <-time.After(time.Minute):
			h.t.Errorf("%s did not stop within a minute", svc)
		}
	})
	h.mu.Unlock()
}

func (h *clusterHub) stopAll() {
	h.mu.Lock()
	fns := h.running
	h.running = nil
	h.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// waitHealthy waits for the service at listen to answer /health 200, with
// the version of the build that runs it.
func (h *clusterHub) waitHealthy(listen string) {
	h.t.Helper()
	var body wire.Health
	natstest.WaitFor(h.t, time.Minute, listen+" healthy", func() bool {
		resp, err := http.Get("http://" + listen + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&body) == nil
	})
	if body.Version != service.Version {
		h.t.Errorf("%s/health: version %q, want %q", listen, body.Version, service.Version)
	}
}

// deliver posts a signed `issues` delivery for issue n to the ingester.
func (h *clusterHub) deliver(t *testing.T, n int) {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"action":"opened","issue":{"id":%d,"title":"Issue %d","body":"b"}}`, n, n))
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.cfg.Ingester.HTTP.Listen+"/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("%08d-c1a5-4000-8000-000000000000", n))
	req.Header.Set("X-Hub-Signature-256", githubhook.SignatureValue(clusterWebhookSecret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("signed delivery %d: %d, want 202", n, resp.StatusCode)
	}
}

// targets maps healthmon's targets to their status (from its /health,
// which answers 503 with the same body while one is down).
func (h *clusterHub) targets() map[string]string {
	resp, err := http.Get("http://" + h.cfg.Healthmon.HTTP.Listen + "/health")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st struct {
		Version string `json:"version"`
		Targets map[string]struct {
			Status string `json:"status"`
		} `json:"targets"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil || st.Version != service.Version {
		return nil
	}
	out := map[string]string{}
	for k, v := range st.Targets {
		out[k] = v.Status
	}
	return out
}

func nkeyOption(seed string) (nats.Option, error) {
	kp, err := nkeys.FromSeed([]byte(seed))
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	return nats.Nkey(pub, kp.Sign), nil
}
