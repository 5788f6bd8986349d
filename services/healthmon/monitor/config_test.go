package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/prometheus/client_golang/prometheus"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if ps := c.Validate("healthmon"); len(ps) != 0 {
		t.Fatalf("default config: %v", ps)
	}
	if c.HTTP.Listen != "127.0.0.1:8090" || c.Interval != 15*time.Second || c.Timeout != 5*time.Second || c.Consecutive != 2 ||
		c.LatencyWarning != 2*time.Second || c.LatencyCritical != 5*time.Second || c.Routes.LagWarning != 1000 ||
		c.Routes.LagCritical != 10000 || c.Routes.RedeliveredWarning != 10 || c.Routes.DLQWarning != 1 || c.Routes.DLQCritical != 100 {
		t.Fatalf("defaults = %+v", c)
	}
	if got := (Config{}).withDefaults(); got.Interval != DefaultInterval || got.Consecutive != 2 || got.HTTP.Listen != DefaultListen {
		t.Fatalf("zero config filled = %+v", got)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.Interval = -time.Second
	c.Consecutive = 40
	c.LatencyWarning, c.LatencyCritical = 6*time.Second, 5*time.Second
	c.Routes.LagWarning, c.Routes.LagCritical = 20, 10
	c.Routes.RedeliveredWarning = -1
	c.Reconciler.FailedWarning, c.Reconciler.FailedCritical = 5, 1
	c.Reconciler.StaleAfter = -time.Minute
	c.HTTPTargets = map[string]HTTPTarget{
		"OCR":  {URL: "http://127.0.0.1:9000/health"},
		"llm":  {URL: "ftp://x"},
		"none": {},
		"odd":  {URL: "http://h/health", ExpectStatus: 42, Timeout: -1, LatencyWarning: 3 * time.Second, LatencyCritical: time.Second},
	}
	ps := c.Validate("healthmon")
	want := []string{
		"healthmon.interval", "healthmon.consecutive", "healthmon.latency_warning",
		"healthmon.http_targets.OCR", "healthmon.http_targets.llm.url", "healthmon.http_targets.none.url",
		"healthmon.http_targets.odd.expect_status", "healthmon.http_targets.odd", "healthmon.http_targets.odd.latency_warning",
		"healthmon.routes.lag_warning", "healthmon.routes", "healthmon.reconciler", "healthmon.reconciler.failed_warning",
	}
	got := map[string]bool{}
	for _, p := range ps {
		got[p.Path] = true
	}
	for _, path := range want {
		if !got[path] {
			t.Errorf("no problem reported at %s", path)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("problems = %v", ps)
	}
}

func TestConfigFromYAMLAndEnvironment(t *testing.T) {
	var c struct {
		Healthmon Config `yaml:"healthmon"`
	}
	c.Healthmon = DefaultConfig()
	t.Setenv("PULSEHUB_HEALTHMON_INTERVAL", "30s")
	yaml := `
healthmon:
  consecutive: 3
  latency_warning: 1500ms
  http_targets:
    ocr: {url: "http://127.0.0.1:9000/health", expect_status: 204, timeout: 2s}
  routes: {lag_warning: 50, dlq_warning: 0}
`
	if err := config.LoadBytes([]byte(yaml), &c, config.Options{Strict: true}); err != nil {
		t.Fatal(err)
	}
	h := c.Healthmon
	if h.Interval != 30*time.Second || h.Consecutive != 3 || h.LatencyWarning != 1500*time.Millisecond ||
		h.HTTPTargets["ocr"].ExpectStatus != 204 || h.HTTPTargets["ocr"].Timeout != 2*time.Second ||
		h.Routes.LagWarning != 50 || h.Routes.DLQWarning != 0 || h.Routes.DLQCritical != 100 {
		t.Fatalf("loaded = %+v", h)
	}
}

func TestServiceURL(t *testing.T) {
	tests := []struct {
		listen string
		tls    bool
		want   string
	}{
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080"},
		{"0.0.0.0:8081", false, "http://127.0.0.1:8081"},
		{":8082", true, "https://127.0.0.1:8082"},
		{"[::]:8080", false, "http://[::1]:8080"},
		{"ingester.internal:8080", false, "http://ingester.internal:8080"},
		{"", false, ""},
		{"no-port", false, ""},
	}
	for _, tc := range tests {
		if got := ServiceURL(tc.listen, tc.tls); got != tc.want {
			t.Errorf("ServiceURL(%q, %v) = %q, want %q", tc.listen, tc.tls, got, tc.want)
		}
	}
}

func TestNewRefusesABadConfigOrATakenRegistry(t *testing.T) {
	e := newEnv(t, false)
	c := testConfig()
	c.Consecutive = 99
	if _, err := New(e.deps, c); err == nil || !strings.Contains(err.Error(), "consecutive") {
		t.Fatalf("bad config: %v", err)
	}
	reg := prometheus.NewRegistry()
	e.deps.Registry = reg
	newMonitor(t, e, testConfig())
	if _, err := New(e.deps, testConfig()); err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Fatalf("second monitor on one registry: %v", err)
	}
}

func TestNATSDownKeepsProbingAndCountsStoreFailures(t *testing.T) {
	e := newEnv(t, false)
	svc := newFakeService(t)
	c := testConfig()
	c.Timeout = 500 * time.Millisecond
	c.HTTPTargets = map[string]HTTPTarget{"svc": {URL: svc.srv.URL}}
	m := newMonitor(t, e, c)
	ctx := context.Background()
	m.RunOnce(ctx)
	natstest.Shutdown(e.srv)
	natstest.WaitFor(t, wait, "the client to notice", func() bool { return !e.deps.Conn.IsConnected() })
	svc.code.Store(500)
	m.RunOnce(ctx)
	m.RunOnce(ctx)
	// Probes go on without NATS: the page and /health still tell the truth.
	if s := statusOf(m, "http-svc"); s != status.Critical {
		t.Fatalf("http-svc = %s with NATS down", s)
	}
	if s := statusOf(m, "nats"); s != status.Down {
		t.Fatalf("nats = %s with NATS down", s)
	}
	if counterValue(m.metrics.errors.WithLabelValues("store")) == 0 || counterValue(m.metrics.errors.WithLabelValues("probe_routes")) == 0 {
		t.Fatal("store and route-listing failures were not counted")
	}
	m.mu.Lock()
	waiting := len(m.unsent["http-svc"])
	m.mu.Unlock()
	if waiting != 1 {
		t.Fatalf("%d transitions waiting for NATS, want 1", waiting)
	}
	m.restore(ctx) // no bucket to read: starts with an empty history, without failing
}

func TestTraceURLMustBeAnHTTPURLWithTheTraceID(t *testing.T) {
	for tmpl, want := range map[string]string{
		"": "", "http://localhost:16686/trace/{trace_id}": "", "https://grafana/explore?traceId={trace_id}": "",
		"http://localhost:16686/trace/": "{trace_id}", "javascript:alert('{trace_id}')": "http://", "/trace/{trace_id}": "http://",
	} {
		c := DefaultConfig()
		c.TraceURL = tmpl
		err := c.Validate("healthmon").Err()
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("trace_url %q: %v, want %q", tmpl, err, want)
		}
	}
	if got := TraceLink("http://j/trace/{trace_id}", "abc"); got != "http://j/trace/abc" {
		t.Errorf("TraceLink = %q", got)
	}
	if TraceLink("", "abc") != "" || TraceLink("http://j/{trace_id}", "") != "" {
		t.Error("TraceLink without a template or an id made a link")
	}
}
