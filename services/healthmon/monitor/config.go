package monitor

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/healthmon/console"
	"github.com/insightpulse/pulsehub/services/healthmon/probe"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// Config is the `healthmon:` section of the hub config.
type Config struct {
	HTTP            service.HTTPConfig         `yaml:"http"`             // GET / (status page), /status.json, /health, /metrics; default listen 127.0.0.1:8090
	Interval        time.Duration              `yaml:"interval"`         // between two probes of a target; default 15s
	Timeout         time.Duration              `yaml:"timeout"`          // the longest one probe may take; default 5s
	Consecutive     int                        `yaml:"consecutive"`      // results in a row that must agree before a status changes (1-32); default 2
	LatencyWarning  time.Duration              `yaml:"latency_warning"`  // an answer this slow is a warning; default 2s
	LatencyCritical time.Duration              `yaml:"latency_critical"` // an answer this slow is critical; default 5s
	HTTPTargets     map[string]HTTPTarget      `yaml:"http_targets"`     // health URLs to probe, by name (target http-<name>); default none
	Routes          probe.RouteThresholds      `yaml:"routes"`           // thresholds for every route's consumer (0 = off)
	Reconciler      probe.ReconcilerThresholds `yaml:"reconciler"`       // thresholds for the ingester's GitHub reconciler (0 = off)
	Console         console.Config             `yaml:"console"`          // the operator console under /console/ (off by default)
	// TraceURL links a route's latest dead letter to its trace in a tracing
	// UI: a URL with {trace_id} where the 32-hex-digit id goes, e.g.
	// http://localhost:16686/trace/{trace_id} (Jaeger). Default none: the
	// page shows the trace id as text.
	TraceURL string `yaml:"trace_url"`

	// Filled by the hub from its shared sections, not read from this one.
	Odoo     map[string]odoo.Config `yaml:"-"` // the top-level odoo: instances; target odoo-<name>
	Services map[string]string      `yaml:"-"` // base URLs of the hub's own services by name (ingester, odoowriter, dispatcher); target service-<name>
}

// HTTPTarget is one health URL: a microservice's /health, or Odoo's
// /web/health?db_server_status=1 (which answers 500 when Odoo cannot reach
// its database).
type HTTPTarget struct {
	URL             string        `yaml:"url"`              // the URL to GET
	ExpectStatus    int           `yaml:"expect_status"`    // the healthy status code; default 200
	Timeout         time.Duration `yaml:"timeout"`          // the longest one probe may take; default healthmon.timeout
	Interval        time.Duration `yaml:"interval"`         // between two probes; default healthmon.interval
	LatencyWarning  time.Duration `yaml:"latency_warning"`  // default healthmon.latency_warning
	LatencyCritical time.Duration `yaml:"latency_critical"` // default healthmon.latency_critical
}

// Defaults of the section.
const (
	DefaultListen          = "127.0.0.1:8090"
	DefaultInterval        = 15 * time.Second
	DefaultTimeout         = 5 * time.Second
	DefaultConsecutive     = 2
	DefaultLatencyWarning  = 2 * time.Second
	DefaultLatencyCritical = 5 * time.Second
)

// DefaultConfig listens on 127.0.0.1:8090 and probes every 15s with the
// operators' standard thresholds.
func DefaultConfig() Config {
	return Config{
		HTTP:            service.HTTPConfig{Listen: DefaultListen},
		Interval:        DefaultInterval,
		Timeout:         DefaultTimeout,
		Consecutive:     DefaultConsecutive,
		LatencyWarning:  DefaultLatencyWarning,
		LatencyCritical: DefaultLatencyCritical,
		Routes:          probe.DefaultRouteThresholds(),
		Reconciler:      probe.DefaultReconcilerThresholds(),
		Console:         console.DefaultConfig(),
	}
}

// withDefaults fills the zero durations and counts (thresholds stay as
// given: zero turns one off).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = d.HTTP.Listen
	}
	c.Interval = orDuration(c.Interval, d.Interval)
	c.Timeout = orDuration(c.Timeout, d.Timeout)
	if c.Consecutive <= 0 {
		c.Consecutive = d.Consecutive
	}
	c.LatencyWarning = orDuration(c.LatencyWarning, d.LatencyWarning)
	c.LatencyCritical = orDuration(c.LatencyCritical, d.LatencyCritical)
	return c
}

func orDuration(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

func (c Config) latency() status.Latency {
	return status.Latency{Warning: c.LatencyWarning, Critical: c.LatencyCritical}
}

// Validate reports every problem under path.
func (c Config) Validate(path string) config.Problems {
	ps := c.HTTP.Validate(path + ".http")
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", c.Interval}, {"timeout", c.Timeout}, {"latency_warning", c.LatencyWarning}, {"latency_critical", c.LatencyCritical}} {
		if d.v < 0 {
			ps.Add(path+"."+d.name, "must not be negative, got %s", d.v)
		}
	}
	if c.Consecutive < 0 || c.Consecutive > 32 {
		ps.Add(path+".consecutive", "must be 1 to 32 (the results the bucket's history keeps), got %d", c.Consecutive)
	}
	checkOrder(&ps, path+".latency_warning", c.LatencyWarning, c.LatencyCritical)
	validateTraceURL(&ps, path+".trace_url", c.TraceURL)
	names := make([]string, 0, len(c.HTTPTargets))
	for n := range c.HTTPTargets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.HTTPTargets[n].validate(&ps, path+".http_targets."+n, n)
	}
	r := c.Routes
	checkOrder(&ps, path+".routes.lag_warning", r.LagWarning, r.LagCritical)
	checkOrder(&ps, path+".routes.dlq_warning", r.DLQWarning, r.DLQCritical)
	if r.AckPendingWarning < 0 || r.RedeliveredWarning < 0 {
		ps.Add(path+".routes", "ack_pending_warning and redelivered_warning must not be negative")
	}
	rc := c.Reconciler
	if rc.FailedWarning < 0 || rc.FailedCritical < 0 || rc.StaleAfter < 0 {
		ps.Add(path+".reconciler", "thresholds must not be negative")
	}
	checkOrder(&ps, path+".reconciler.failed_warning", rc.FailedWarning, rc.FailedCritical)
	ps = append(ps, c.Console.Validate(path+".console")...)
	return ps
}

func (t HTTPTarget) validate(ps *config.Problems, path, name string) {
	if !probe.IsTargetName(name) {
		ps.Add(path, "name %q: use lower-case letters, digits and '-' (it becomes the target http-%s)", name, name)
	}
	u, err := url.Parse(t.URL)
	switch {
	case t.URL == "":
		ps.Add(path+".url", "is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		ps.Add(path+".url", "want an http or https URL with a host")
	}
	if t.ExpectStatus != 0 && (t.ExpectStatus < 100 || t.ExpectStatus > 599) {
		ps.Add(path+".expect_status", "want an HTTP status code, got %d", t.ExpectStatus)
	}
	if t.Timeout < 0 || t.Interval < 0 || t.LatencyWarning < 0 || t.LatencyCritical < 0 {
		ps.Add(path, "durations must not be negative")
	}
	checkOrder(ps, path+".latency_warning", t.LatencyWarning, t.LatencyCritical)
}

// checkOrder reports a warning threshold above its critical one (both set).
func checkOrder[T int | uint64 | float64 | time.Duration](ps *config.Problems, path string, warning, critical T) {
	if warning > 0 && critical > 0 && warning > critical {
		ps.Add(path, "warning threshold %v is above the critical one %v", warning, critical)
	}
}

// ServiceURL turns a service's listen address into the base URL healthmon
// reaches it on: a wildcard or empty host becomes loopback. The hub uses it
// to fill Services from the other sections.
func ServiceURL(listen string, tls bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(host, port))
}
