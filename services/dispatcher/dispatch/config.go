package dispatch

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/dispatcher/cache"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/graph"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
)

// Config is the `dispatcher:` section of the hub config.
type Config struct {
	HTTP          service.HTTPConfig        `yaml:"http"`           // GET /health, /metrics and /breakers; default listen 127.0.0.1:8082
	Services      map[string]channel.Config `yaml:"services"`       // the microservices by name (url, auth, timeout, capacity, retry, breaker, tasks); none by default
	ResultTTL     time.Duration             `yaml:"result_ttl"`     // how long a successful answer stays in the result cache; default 24h
	JobRetention  time.Duration             `yaml:"job_retention"`  // how long done and dead job records are kept; default 720h (30 days); 0 = forever
	ShutdownGrace time.Duration             `yaml:"shutdown_grace"` // how long in-flight calls may finish on shutdown before they are cut and redelivered; default 15s
	SlotWait      time.Duration             `yaml:"slot_wait"`      // how long a message waits for a free slot of a saturated service before it goes back to the stream; default 50ms
	Graphs        graph.Config              `yaml:"graphs"`         // job graphs on jobs.graph.<name> (max_nodes, default 1000)

	// Routes are the hub's routes (the shared `routes:` section, filled in
	// by the hub); the dispatcher runs those with a dispatch: target.
	Routes []route.Spec `yaml:"-"`

	pollWait time.Duration // consume.Loop.PollWait; tests shorten it so shutdowns are quick
	// graphBeforeStart is graph.Options.BeforeStart: tests crash a
	// dispatcher between a parent's done and its child's start.
	graphBeforeStart func(ctx context.Context, graph, node string) error
}

// DefaultConfig listens on 127.0.0.1:8082 with no services.
func DefaultConfig() Config {
	return Config{
		HTTP:          service.HTTPConfig{Listen: "127.0.0.1:8082"},
		ResultTTL:     cache.DefaultTTL,
		JobRetention:  30 * 24 * time.Hour,
		ShutdownGrace: 15 * time.Second,
		SlotWait:      50 * time.Millisecond,
		Graphs:        graph.DefaultConfig(),
	}
}

// Validate reports every problem under path, and every dispatch route
// (under routes[i]) that names a service not configured here.
func (c Config) Validate(path string) config.Problems {
	ps := c.HTTP.Validate(path + ".http")
	for _, name := range c.serviceNames() {
		p := fmt.Sprintf("%s.services.%s", path, name)
		if !channel.ValidName(name) {
			ps.Add(p, "service name %q: use 1-%d letters, digits, '-' or '_' (it is a subject token and part of a consumer name)", name, channel.MaxNameLen)
		}
		if name == jobs.GraphService {
			ps.Add(p, "service name %q is reserved: jobs.graph.<name> carries job graphs", name)
		}
		ps = append(ps, c.Services[name].Validate(p)...)
	}
	ps = append(ps, c.Graphs.Validate(path+".graphs")...)
	if c.ResultTTL <= 0 {
		ps.Add(path+".result_ttl", "must be positive (default 24h)")
	}
	if c.JobRetention < 0 {
		ps.Add(path+".job_retention", "must not be negative (0 keeps finished jobs forever)")
	}
	if c.ShutdownGrace < 0 {
		ps.Add(path+".shutdown_grace", "must not be negative")
	}
	if c.SlotWait < 0 {
		ps.Add(path+".slot_wait", "must not be negative")
	}
	for i, s := range c.Routes {
		if s.Dispatch == nil || s.Dispatch.Service == "" {
			continue
		}
		if _, ok := c.Services[s.Dispatch.Service]; !ok {
			ps.Add(fmt.Sprintf("routes[%d].dispatch.service", i), "route %q calls service %q, which is not under %s.services (configured: %s)",
				s.Name, s.Dispatch.Service, path, strings.Join(c.serviceNames(), ", "))
		}
	}
	return ps
}

func (c Config) serviceNames() []string {
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// dispatchRoutes are the routes this service runs.
func (c Config) dispatchRoutes() []route.Spec {
	var out []route.Spec
	for _, s := range c.Routes {
		if s.Dispatch != nil {
			out = append(out, s)
		}
	}
	return out
}

// retryPolicy merges a route's retry over its service's: each field the
// route sets wins, the rest come from the service, then the defaults.
func retryPolicy(routeRetry, serviceRetry route.Retry) consume.Retry {
	r := serviceRetry
	if routeRetry.MaxAttempts != 0 {
		r.MaxAttempts = routeRetry.MaxAttempts
	}
	if routeRetry.InitialInterval != 0 {
		r.InitialInterval = routeRetry.InitialInterval
	}
	if routeRetry.MaxInterval != 0 {
		r.MaxInterval = routeRetry.MaxInterval
	}
	if routeRetry.Multiplier != 0 {
		r.Multiplier = routeRetry.Multiplier
	}
	if routeRetry.Jitter != 0 {
		r.Jitter = routeRetry.Jitter
	}
	return r.Policy()
}
