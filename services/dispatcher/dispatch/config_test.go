package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
)

func TestConfigValidation(t *testing.T) {
	good := channel.Config{URL: "http://127.0.0.1:9000"}
	tests := []struct {
		name  string
		edit  func(*Config)
		paths []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"a good service and route", func(c *Config) {
			c.Services = map[string]channel.Config{"ocr": good}
			c.Routes = []route.Spec{expenseOCR()}
		}, nil},
		{"route names an unknown service", func(c *Config) {
			c.Services = map[string]channel.Config{"llm": good}
			c.Routes = []route.Spec{{Name: "w", Odoo: &route.OdooTarget{}}, expenseOCR()}
		}, []string{"routes[1].dispatch.service"}},
		{"bad service entry", func(c *Config) {
			c.Services = map[string]channel.Config{"bad.name": {URL: "ftp://x", Capacity: -1, Timeout: -1,
				Breaker: channel.BreakerConfig{FailureRatio: 2, CoolDown: -1},
				Retry:   route.Retry{Multiplier: 0.5, Jitter: 1},
				Tasks:   map[string]channel.Task{"t": {Path: "x", Method: "TRACE", Response: "xml"}}}}
		}, []string{"dispatcher.services.bad.name", "dispatcher.services.bad.name.url", "dispatcher.services.bad.name.timeout",
			"dispatcher.services.bad.name.capacity", "dispatcher.services.bad.name.retry.multiplier", "dispatcher.services.bad.name.retry.jitter",
			"dispatcher.services.bad.name.breaker.failure_ratio", "dispatcher.services.bad.name.breaker.cool_down",
			"dispatcher.services.bad.name.tasks.t.path", "dispatcher.services.bad.name.tasks.t.method", "dispatcher.services.bad.name.tasks.t.response"}},
		{"missing url and credentials in url", func(c *Config) {
			c.Services = map[string]channel.Config{"a": {}, "b": {URL: "http://u:p@host"}}
		}, []string{"dispatcher.services.a.url", "dispatcher.services.b.url"}},
		{"auth in clear text to another machine", func(c *Config) {
			auth := config.NewSecret("Bearer config-test-token")
			c.Services = map[string]channel.Config{
				"remote":     {URL: "http://ocr:9000", Auth: auth},
				"allowed":    {URL: "http://ocr:9000", Auth: auth, AllowInsecureHTTP: true},
				"loopback":   {URL: "http://localhost:9000", Auth: auth},
				"tls":        {URL: "https://ocr.example.com", Auth: auth},
				"no-secrets": {URL: "http://ocr:9000"},
			}
		}, []string{"dispatcher.services.remote.url"}},
		{"durations", func(c *Config) { c.ResultTTL, c.JobRetention, c.ShutdownGrace, c.SlotWait = 0, -1, -1, -1 },
			[]string{"dispatcher.result_ttl", "dispatcher.job_retention", "dispatcher.shutdown_grace", "dispatcher.slot_wait"}},
		{"http listen", func(c *Config) { c.HTTP.Listen = "nope" }, []string{"dispatcher.http.listen"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			ps := c.Validate("dispatcher")
			var got []string
			for _, p := range ps {
				got = append(got, p.Path)
			}
			if strings.Join(got, " ") != strings.Join(tc.paths, " ") {
				t.Fatalf("problems at %v, want %v:\n%v", got, tc.paths, ps)
			}
		})
	}
}

func TestConfigFromYAMLAndEnvironment(t *testing.T) {
	type file struct {
		Dispatcher Config `yaml:"dispatcher"`
	}
	f := file{Dispatcher: DefaultConfig()}
	yml := "dispatcher:\n  services:\n    ocr:\n      url: http://127.0.0.1:9000\n      capacity: 2\n      breaker: {cool_down: 10s}\n"
	env := map[string]string{"PULSEHUB_DISPATCHER_SERVICES_OCR_AUTH": "Bearer from-env", "PULSEHUB_DISPATCHER_RESULT_TTL": "2h"}
	err := config.LoadBytes([]byte(yml), &f, config.Options{Strict: true, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	ocr := f.Dispatcher.Services["ocr"].WithDefaults()
	if ocr.Auth.Value() != "Bearer from-env" || ocr.AuthHeader != "Authorization" || ocr.Capacity != 2 || ocr.Timeout != 30*time.Second ||
		ocr.Breaker.CoolDown != 10*time.Second || ocr.Breaker.ConsecutiveFailures != 5 || f.Dispatcher.ResultTTL != 2*time.Hour ||
		f.Dispatcher.JobRetention != 720*time.Hour {
		t.Fatalf("config = %+v", f.Dispatcher)
	}
	names := map[string]bool{}
	for _, v := range config.EnvVars(&f) {
		names[v.Name] = true
	}
	for _, want := range []string{"PULSEHUB_DISPATCHER_SERVICES_OCR_AUTH", "PULSEHUB_DISPATCHER_SERVICES_OCR_AUTH_FILE", "PULSEHUB_DISPATCHER_JOB_RETENTION"} {
		if !names[want] {
			t.Errorf("env var %s not read", want)
		}
	}
}

func TestNewRefusesABadConfigAndUnknownStreams(t *testing.T) {
	b := newBus(t)
	deps := service.Deps{Conn: b.nc, JS: b.js, Logger: slog.New(slog.DiscardHandler), Streams: stream.DefaultConfig()}
	bad := testConfig(map[string]channel.Config{"ocr": {}})
	if _, err := New(context.Background(), deps, bad); err == nil || !strings.Contains(err.Error(), "dispatcher.services.ocr.url") {
		t.Fatalf("err = %v", err)
	}
	spec := expenseOCR()
	spec.From.Stream = "NOPE"
	cfg := testConfig(map[string]channel.Config{"ocr": {URL: "http://127.0.0.1:1"}}, spec)
	if _, err := New(context.Background(), deps, cfg); err == nil || !strings.Contains(err.Error(), "route expense-ocr") {
		t.Fatalf("err = %v", err)
	}
	busy := testConfig(nil)
	busy.HTTP.Listen = "256.0.0.1:1"
	if _, err := New(context.Background(), deps, busy); err == nil {
		t.Fatal("bound an impossible address")
	}
}

func TestHTTPEndpoints(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, ok)
	sc := svcConfig(svc.URL, 3)
	sc.Auth = config.NewSecret("Bearer never-shown")
	d := b.start(t, testConfig(map[string]channel.Config{"ocr": sc, "llm": svcConfig(svc.URL, 1)}))
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get("http://" + d.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	code, body := get("/breakers")
	var br wire.Breakers // what the health monitor's breaker probe decodes, and nothing else
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&br); err != nil || code != 200 {
		t.Fatalf("/breakers %d %s: %v", code, body, err)
	}
	if len(br) != 2 || br["llm"].Service != "llm" || br["ocr"].State != wire.BreakerClosed || br["ocr"].Capacity != 3 {
		t.Fatalf("/breakers %+v", br)
	}
	if code, body := get("/health"); code != 200 || !strings.Contains(string(body), `"nats"`) {
		t.Fatalf("/health %d %s", code, body)
	}
	code, body = get("/metrics")
	for _, want := range []string{"pulsehub_dispatcher_breaker_state{service=\"ocr\"} 0", "pulsehub_dispatcher_in_flight{service=\"llm\"} 0"} {
		if code != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), "never-shown") {
		t.Fatal("a secret reached /metrics")
	}
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestRetryPolicyMergesRouteOverService(t *testing.T) {
	svc := route.Retry{MaxAttempts: 3, InitialInterval: time.Second, MaxInterval: time.Minute, Multiplier: 3, Jitter: 0.1}
	got := retryPolicy(route.Retry{MaxAttempts: 9, MaxInterval: time.Hour}, svc)
	if got.MaxAttempts != 9 || got.InitialInterval != time.Second || got.MaxInterval != time.Hour || got.Multiplier != 3 || got.RandomizationFactor != 0.1 {
		t.Fatalf("policy = %+v", got)
	}
	if d := retryPolicy(route.Retry{}, route.Retry{}); d.MaxAttempts != 8 {
		t.Fatalf("defaults = %+v", d)
	}
}

func TestRequestIDFallsBackToTheStreamSequence(t *testing.T) {
	b := newBus(t)
	published := b.watch(t, "results.ocr.>")
	svc := newFake(t, ok)
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 1)}))
	// `nats pub jobs.ocr.extract '{"payload":1}'`: no envelope at all.
	if _, err := b.js.Publish(context.Background(), "jobs.ocr.extract", []byte(`{"payload":1}`)); err != nil {
		t.Fatal(err)
	}
	r := decodeResult(t, published.wait(t, 1)[0].Data)
	if r.RequestID != events.StreamJobs+"-1" || r.JobID != r.RequestID {
		t.Fatalf("result %+v", r)
	}
	b.waitState(t, r.JobID, "done")
}
