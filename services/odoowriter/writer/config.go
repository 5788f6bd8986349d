package writer

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
)

// Config is the `odoowriter:` section of the hub config.
type Config struct {
	HTTP          service.HTTPConfig `yaml:"http"`           // GET /health, /health/odoo and /metrics; default listen 127.0.0.1:8081
	BatchSize     int                `yaml:"batch_size"`     // most plans written in one Odoo call; default 2000 (1 = one call per event). Batches grow up to it with the backlog: while a batch is in Odoo the next one fills
	Linger        time.Duration      `yaml:"linger"`         // how long the first plan of a batch waits for more while more wait in the stream and Odoo is idle; default 20ms. With nothing waiting a plan goes at once
	Concurrency   int                `yaml:"concurrency"`    // messages in flight per route whose own concurrency is unset; default 0 = 2 × batch_size, so the next full batch forms while one is in Odoo
	Instance      string             `yaml:"instance"`       // the Odoo instance of routes that name none and of odoo-cmd commands; default "default"
	ShutdownGrace time.Duration      `yaml:"shutdown_grace"` // how long in-flight writes may finish on shutdown before they are cut and their messages redelivered; default 15s
	CmdRoute      CmdRoute           `yaml:"cmd_route"`      // the built-in route odoo-cmd (odoo.cmd.<model>.<op> commands)

	// Odoo are the hub's Odoo instances by name (the shared `odoo:`
	// section, filled in by the hub).
	Odoo map[string]odoo.Config `yaml:"-"`
	// Routes are the hub's routes (the shared `routes:` section, filled
	// in by the hub); the writer runs those with an odoo: target.
	Routes []route.Spec `yaml:"-"`

	pollWait time.Duration // consume.Loop.PollWait; tests shorten it so shutdowns are quick
}

// CmdRoute is the built-in route that runs odoo.cmd.<model>.<op> commands
// (stream ODOO_CMD, consumer odoo-cmd).
type CmdRoute struct {
	Enabled     bool          `yaml:"enabled"`     // consume odoo.cmd.>; default true
	Concurrency int           `yaml:"concurrency"` // commands in flight; default 0 = the writer's concurrency
	AckWait     time.Duration `yaml:"ack_wait"`    // redelivery after this long without an ack or progress (what a killed process had pulled waits this long); default 10s
	Retry       route.Retry   `yaml:"retry"`       // transient failures: attempts and backoff; defaults as for routes (8 attempts, 1s doubling to 5m)
}

// Defaults of Config.
const (
	DefaultBatchSize = 2000
	DefaultLinger    = 20 * time.Millisecond
)

// DefaultConfig listens on 127.0.0.1:8081 and batches up to 2000 plans,
// lingering up to 20ms while more wait in the stream.
func DefaultConfig() Config {
	return Config{
		HTTP:          service.HTTPConfig{Listen: "127.0.0.1:8081"},
		BatchSize:     DefaultBatchSize,
		Linger:        DefaultLinger,
		Instance:      route.DefaultInstance,
		ShutdownGrace: 15 * time.Second,
		CmdRoute:      CmdRoute{Enabled: true},
	}
}

// Validate reports every problem under path, and every Odoo route (under
// routes[i]) whose instance is not in the odoo: section.
func (c Config) Validate(path string) config.Problems {
	ps := c.HTTP.Validate(path + ".http")
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		ps.Add(path+".batch_size", "must be 1 to 10000, got %d", c.BatchSize)
	}
	if c.Linger < 0 || c.Linger > time.Minute {
		ps.Add(path+".linger", "must be 0 to 1m, got %s", c.Linger)
	}
	if c.Concurrency < 0 {
		ps.Add(path+".concurrency", "must not be negative (0 = 2 × batch_size)")
	}
	if c.ShutdownGrace < 0 {
		ps.Add(path+".shutdown_grace", "must not be negative")
	}
	if !events.IsName(c.Instance) {
		ps.Add(path+".instance", "%q: instance names are 1-%d letters, digits, '-' or '_'", c.Instance, events.MaxNameLen)
	}
	if c.CmdRoute.Concurrency < 0 {
		ps.Add(path+".cmd_route.concurrency", "must not be negative")
	}
	if c.CmdRoute.AckWait < 0 || (c.CmdRoute.AckWait > 0 && c.CmdRoute.AckWait < time.Second) {
		ps.Add(path+".cmd_route.ack_wait", "must be at least 1s")
	}
	if r := c.CmdRoute.Retry; r.MaxAttempts < 0 || r.Jitter < 0 || r.Jitter >= 1 {
		ps.Add(path+".cmd_route.retry", "max_attempts must be ≥ 0 and jitter in [0, 1)")
	}
	return append(ps, c.validateInstances(path)...)
}

// validateInstances checks that every Odoo route, and odoo-cmd, write to a
// configured instance. With no instance and no Odoo route the writer runs
// idle, which is fine.
func (c Config) validateInstances(path string) config.Problems {
	var ps config.Problems
	for i, s := range c.Routes {
		if s.Odoo == nil {
			continue
		}
		p := fmt.Sprintf("routes[%d].odoo.instance", i)
		inst := c.instanceOf(s.Odoo)
		switch {
		case len(c.Odoo) == 0:
			ps.Add(p, "route %q writes to Odoo, but no Odoo instance is configured (add one under odoo:, e.g. odoo: {%s: {url: ..., database: ..., login: ..., password: ...}})", s.Name, inst)
		case !c.hasInstance(inst):
			ps.Add(p, "route %q writes to Odoo instance %q, which is not under odoo: (configured: %s)", s.Name, inst, c.instanceNames())
		}
	}
	if c.CmdRoute.Enabled && len(c.Odoo) > 0 && !c.hasInstance(c.Instance) {
		ps.Add(path+".instance", "odoo-cmd commands go to instance %q, which is not under odoo: (configured: %s)", c.Instance, c.instanceNames())
	}
	return ps
}

func (c Config) hasInstance(name string) bool {
	_, ok := c.Odoo[name]
	return ok
}

// instanceOf is the instance a route writes to: its own, else the writer's.
func (c Config) instanceOf(t *route.OdooTarget) string {
	if t.Instance != "" {
		return t.Instance
	}
	return c.Instance
}

func (c Config) instanceNames() string {
	names := make([]string, 0, len(c.Odoo))
	for n := range c.Odoo {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// odooRoutes are the routes this service runs, each with its instance
// and concurrency filled in.
func (c Config) odooRoutes() []route.Spec {
	var out []route.Spec
	for _, s := range c.Routes {
		if s.Odoo == nil {
			continue
		}
		t := *s.Odoo
		t.Instance = c.instanceOf(&t)
		s.Odoo = &t
		if s.Concurrency <= 0 {
			s.Concurrency = c.concurrency()
		}
		out = append(out, s)
	}
	return out
}

func (c Config) concurrency() int {
	if c.Concurrency > 0 {
		return c.Concurrency
	}
	// Two batches' worth: one in Odoo, the next filling meanwhile (Odoo
	// serves one call at a time with --workers=0, and the hub's work on the
	// next batch then costs no Odoo time).
	return 2 * max(c.BatchSize, 1)
}
