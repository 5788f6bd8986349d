package writer

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

func TestDefaultConfigIsValidAndIdle(t *testing.T) {
	c := DefaultConfig()
	if ps := c.Validate("odoowriter"); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if c.BatchSize != 2000 || c.Linger != 20*time.Millisecond || c.concurrency() != 4000 || c.Instance != "default" ||
		!c.CmdRoute.Enabled || c.HTTP.Listen != "127.0.0.1:8081" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestValidateReportsEveryProblemWithItsPath(t *testing.T) {
	odooRoute := func(name, instance string) route.Spec {
		return route.Spec{Name: name, Odoo: &route.OdooTarget{Instance: instance, Model: "project.task", Op: "create", Values: map[string]string{"name": ".a"}}}
	}
	main := map[string]odoo.Config{"main": {URL: "http://odoo:8069"}}
	cases := []struct {
		name  string
		tune  func(*Config)
		paths []string
	}{
		{"limits", func(c *Config) {
			c.BatchSize, c.Linger, c.Concurrency, c.ShutdownGrace = 0, -time.Second, -1, -time.Second
			c.CmdRoute = CmdRoute{Enabled: true, Concurrency: -1, AckWait: time.Millisecond, Retry: route.Retry{Jitter: 2}}
		}, []string{"odoowriter.batch_size", "odoowriter.linger", "odoowriter.concurrency", "odoowriter.shutdown_grace",
			"odoowriter.cmd_route.concurrency", "odoowriter.cmd_route.ack_wait", "odoowriter.cmd_route.retry"}},
		{"bad instance name", func(c *Config) { c.Instance = "a b" }, []string{"odoowriter.instance"}},
		{"routes but no Odoo", func(c *Config) { c.Routes = []route.Spec{{Name: "d"}, odooRoute("r", "")} }, []string{"routes[1].odoo.instance"}},
		{"route to an unknown instance", func(c *Config) {
			c.Odoo, c.Instance = main, "main"
			c.Routes = []route.Spec{odooRoute("a", "main"), odooRoute("b", "other"), odooRoute("c", "")}
		}, []string{"routes[1].odoo.instance"}},
		{"commands to an unknown instance", func(c *Config) { c.Odoo = main }, []string{"odoowriter.instance"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.tune(&cfg)
			ps := cfg.Validate("odoowriter")
			got := map[string]bool{}
			for _, p := range ps {
				got[p.Path] = true
			}
			for _, want := range c.paths {
				if !got[want] {
					t.Errorf("no problem at %s; got %v", want, ps)
				}
			}
			if len(ps) != len(c.paths) {
				t.Errorf("%d problems, want %d: %v", len(ps), len(c.paths), ps)
			}
		})
	}
}

func TestConfigLoadsFromYAMLAndEnvironment(t *testing.T) {
	t.Setenv("PULSEHUB_ODOOWRITER_BATCH_SIZE", "25")
	var holder struct {
		Writer Config `yaml:"odoowriter"`
	}
	holder.Writer = DefaultConfig()
	path := t.TempDir() + "/hub.yaml"
	yml := "odoowriter:\n  linger: 5ms\n  cmd_route: {enabled: false, retry: {max_attempts: 3}}\n"
	if err := writeFile(path, yml); err != nil {
		t.Fatal(err)
	}
	if err := config.Load(path, &holder, config.Options{Strict: true}); err != nil {
		t.Fatal(err)
	}
	w := holder.Writer
	if w.BatchSize != 25 || w.Linger != 5*time.Millisecond || w.CmdRoute.Enabled || w.CmdRoute.Retry.MaxAttempts != 3 || w.concurrency() != 50 {
		t.Fatalf("loaded %+v", w)
	}
	names := map[string]bool{}
	for _, e := range config.EnvVars(&holder) {
		names[e.Name] = true
	}
	for _, want := range []string{"PULSEHUB_ODOOWRITER_BATCH_SIZE", "PULSEHUB_ODOOWRITER_LINGER", "PULSEHUB_ODOOWRITER_CMD_ROUTE_ENABLED"} {
		if !names[want] {
			t.Errorf("no variable %s in %v", want, names)
		}
	}
}

func TestOdooRoutesGetTheWritersInstanceAndConcurrency(t *testing.T) {
	var routes []route.Spec
	src := `[{name: a, concurrency: 7, odoo: {model: m.x, op: create, values: {a: .a}}},
		{name: b, odoo: {instance: other, model: m.x, op: create, values: {a: .a}}}, {name: c, dispatch: {service: ocr}}]`
	if err := yaml.Unmarshal([]byte(src), &routes); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Routes, c.Instance, c.BatchSize = routes, "main", 50
	got := c.odooRoutes()
	if len(got) != 2 || got[0].Odoo.Instance != "main" || got[0].Concurrency != 7 || got[1].Odoo.Instance != "other" || got[1].Concurrency != 100 {
		t.Fatalf("routes = %+v", got)
	}
	if routes[0].Odoo.Instance != "" {
		t.Fatal("the shared routes were modified")
	}
	if o := got[1].ConsumerOptions(); o.MaxAckPending != 1000 || o.Name != "b" {
		t.Fatalf("consumer options %+v", o)
	}
}

func TestIdleWriterServesHealthWithoutOdoo(t *testing.T) {
	h := setup(t, "")
	h.cfg.Odoo = nil
	h.start(t)
	natstest.WaitFor(t, 10*time.Second, "/health answers", func() bool {
		return strings.HasPrefix(h.get(t, "/health"), "200 ")
	})
	if body := h.get(t, "/health/odoo"); !strings.HasPrefix(body, "200 ") || !strings.Contains(body, `"instances": []`) {
		t.Errorf("/health/odoo = %s", body)
	}
	_, err := h.js.Consumer(context.Background(), "ODOO_CMD", "odoo-cmd")
	if err == nil {
		t.Error("an idle writer created the odoo-cmd consumer")
	}
}

func TestStartupFailures(t *testing.T) {
	cases := []struct {
		name string
		tune func(t *testing.T, h *harness)
		want string
	}{
		{"stream missing", func(t *testing.T, h *harness) {
			if err := h.js.DeleteStream(context.Background(), "JOBS"); err != nil {
				t.Fatal(err)
			}
		}, "route task-rename"},
		{"port taken", func(t *testing.T, h *harness) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			h.cfg.HTTP.Listen = ln.Addr().String()
		}, "listen"},
		{"bad Odoo config", func(t *testing.T, h *harness) {
			c := h.cfg.Odoo["default"]
			c.URL = "ftp://odoo"
			h.cfg.Odoo = map[string]odoo.Config{"default": c}
		}, "odoo instance default"},
		{"invalid config", func(t *testing.T, h *harness) { h.cfg.BatchSize = 0 }, "odoowriter.batch_size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := setup(t, opRoutes)
			c.tune(t, h)
			err := Run(context.Background(), service.Deps{Conn: h.nc, JS: h.js, Registry: prometheus.NewRegistry()}, h.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run = %v, want %q", err, c.want)
			}
		})
	}
}

func TestCmdRouteCanBeDisabled(t *testing.T) {
	h := setup(t, opRoutes)
	h.cfg.CmdRoute.Enabled = false
	h.start(t)
	natstest.WaitFor(t, 10*time.Second, "route consumers", func() bool {
		_, err := h.js.Consumer(context.Background(), "GITHUB", "gh-issues")
		return err == nil
	})
	if _, err := h.js.Consumer(context.Background(), "ODOO_CMD", "odoo-cmd"); err == nil {
		t.Error("odoo-cmd consumer created while disabled")
	}
}
