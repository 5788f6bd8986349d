package console_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/insightpulse/pulsehub/services/healthmon/console"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// wait bounds every condition a test waits for.
const wait = 30 * time.Second

// The operator account of the tests.
const (
	operator = "alice"
	password = "correct horse battery staple"
)

// hub is a test's hub: real JetStream with the hub's streams, the real
// dispatcher calling a fake microservice "ocr", and healthmon with the
// console, all in-process.
type hub struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	base   string // http://host:port of healthmon
	ocr    *service422
	logs   *natstest.LogBuffer
	cancel context.CancelFunc
}

// service422 answers /extract with its status (422 until told otherwise)
// and an error body that tries to inject markup; every other task 200.
type service422 struct {
	*httptest.Server
	status atomic.Int64
}

const hostileError = `<img src=x onerror=alert('odoo')><script>alert(1)</script>`

func newService(t *testing.T) *service422 {
	s := &service422{}
	s.status.Store(422)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/extract" && s.status.Load() != 200 {
			w.WriteHeader(int(s.status.Load()))
			_, _ = io.WriteString(w, `{"error": "`+hostileError+`"}`) // as a careless service writes it: no \u003c
			return
		}
		_, _ = io.WriteString(w, `{"total": 42, "note": "<b>bold</b>"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// startHub starts a hub; tune changes the console's config.
func startHub(t *testing.T, tune func(*console.Config), opts ...console.Option) *hub {
	t.Helper()
	nh := natstest.RunHub(t)
	h := &hub{nc: nh.Conn, js: nh.JS, ocr: newService(t), logs: &natstest.LogBuffer{}}
	log := slog.New(slog.NewJSONHandler(h.logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	deps := func(name string) service.Deps {
		return service.Deps{Conn: h.nc, JS: h.js, Logger: log.With("service", name), Registry: prometheus.NewRegistry(), Streams: stream.DefaultConfig()}
	}

	dc := dispatch.DefaultConfig()
	dc.HTTP.Listen = "127.0.0.1:0"
	dc.ShutdownGrace = 200 * time.Millisecond
	dc.Services = map[string]channel.Config{"ocr": {URL: h.ocr.URL, Capacity: 4, Timeout: 5 * time.Second,
		Retry: route.Retry{MaxAttempts: 2, InitialInterval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond}}}
	dispatched := make(chan error, 1)
	go func() { dispatched <- dispatch.Run(ctx, deps("dispatcher"), dc) }()

	mc := monitor.DefaultConfig()
	mc.HTTP.Listen = "127.0.0.1:0"
	mc.Interval = time.Second
	mc.Console = console.Config{Enabled: true, Operators: map[string]console.Operator{operator: {Password: config.NewSecret(password)}},
		PageSize: 20}
	if tune != nil {
		tune(&mc.Console)
	}
	m, err := monitor.New(deps("healthmon"), mc, monitor.WithConsoleOptions(opts...))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Listen(); err != nil {
		t.Fatal(err)
	}
	h.base = "http://" + m.Addr()
	monitored := make(chan error, 1)
	go func() { monitored <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, ch := range []chan error{dispatched, monitored} {
			select {
			case err := <-ch:
				if err != nil {
					t.Errorf("service stopped with: %v", err)
				}
			case <-time.After(wait):
				t.Error("a service did not stop")
			}
		}
	})
	natstest.WaitFor(t, wait, "the dispatcher's jobs bucket", func() bool {
		_, err := jobstate.Bind(context.Background(), h.js)
		return err == nil
	})
	return h
}

// enqueue enqueues a job for ocr and returns its id.
func (h *hub) enqueue(t *testing.T, task string, job jobs.Job) string {
	t.Helper()
	c, err := jobs.NewClient(context.Background(), h.js)
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Enqueue(context.Background(), "ocr", task, job)
	if err != nil {
		t.Fatal(err)
	}
	return e.ID
}

// publishRaw publishes a job body as `nats pub` would, bytes as given
// (jobs.Enqueue's encoder would escape < and >), and returns its id.
func (h *hub) publishRaw(t *testing.T, task, body string) string {
	t.Helper()
	e := events.New(context.Background(), "/test", jobs.Type, []byte(body))
	if _, err := stream.Publish(context.Background(), h.js, e.Msg("jobs.ocr."+task)); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

// waitState waits for job id to reach state.
func (h *hub) waitState(t *testing.T, id string, state jobstate.State) {
	t.Helper()
	natstest.WaitFor(t, wait, "job "+id+" to be "+string(state), func() bool {
		r, err := jobs.Get(context.Background(), h.js, id)
		return err == nil && r.State == state
	})
}

// client is an operator's HTTP client: a cookie jar, no redirects followed.
type client struct {
	*http.Client
	base string
	t    *testing.T
}

func (h *hub) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{Client: &http.Client{Jar: jar, Timeout: wait,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, base: h.base, t: t}
}

// get returns the status and body of GET path.
func (c *client) get(path string) (int, string) {
	c.t.Helper()
	resp, err := c.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post posts form to path and returns the response (body read).
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([A-Za-z0-9_-]+)"`)

// csrf is the first CSRF token in a page.
func csrf(t *testing.T, page string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// login logs in with user and pass and returns the response.
func (c *client) login(user, pass string) *http.Response {
	c.t.Helper()
	_, page := c.get("/console/login")
	resp, _ := c.post("/console/login", url.Values{"csrf": {csrf(c.t, page)}, "user": {user}, "password": {pass}})
	return resp
}

// mustLogin logs in as the operator.
func (c *client) mustLogin() {
	c.t.Helper()
	if resp := c.login(operator, password); resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login: %s", resp.Status)
	}
}

// token is the CSRF token of the logged-in session.
func (c *client) token() string {
	c.t.Helper()
	_, page := c.get("/console/jobs")
	return csrf(c.t, page)
}

func contains(t *testing.T, what, page string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Errorf("%s: %q missing", what, w)
		}
	}
}
