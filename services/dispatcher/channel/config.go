package channel

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/services/dispatcher/call"
)

// Defaults of a service entry; zero fields take them.
const (
	DefaultAuthHeader       = "Authorization"
	DefaultTimeout          = 30 * time.Second
	DefaultCapacity         = 4
	DefaultMaxResponseBytes = 8 << 20
)

// Config is one entry of `dispatcher.services`: a microservice and how it
// is called. Its name (the map key) is the <service> token of
// jobs.<service>.<task> and results.<service>.<task>.
type Config struct {
	URL               string          `yaml:"url"`                 // base URL the route's or task's path is appended to, e.g. http://127.0.0.1:9000; required
	AuthHeader        string          `yaml:"auth_header"`         // header the auth secret is sent in; default Authorization
	Auth              config.Secret   `yaml:"auth"`                // that header's value, e.g. "Bearer xyz" (env PULSEHUB_DISPATCHER_SERVICES_<NAME>_AUTH or _AUTH_FILE); none by default
	AllowInsecureHTTP bool            `yaml:"allow_insecure_http"` // with auth, an http:// url to another machine is refused unless this is true (a trusted network, e.g. compose); loopback is always allowed; default false
	Timeout           time.Duration   `yaml:"timeout"`             // one call, answer body included; default 30s
	Capacity          int             `yaml:"capacity"`            // calls in flight to this service at most (queue_job's channel capacity, root.ocr:2); default 4
	MaxResponseBytes  int64           `yaml:"max_response_bytes"`  // a longer answer is a permanent failure; default 8 MiB
	Retry             route.Retry     `yaml:"retry"`               // transient failures of jobs, and of routes that set no retry of their own
	Breaker           BreakerConfig   `yaml:"breaker"`             // circuit breaker
	Tasks             map[string]Task `yaml:"tasks"`               // per task (jobs.<service>.<task>): path and method; a task not listed is POST /<task>
}

// Task is one entry of `dispatcher.services.<name>.tasks`.
type Task struct {
	Path     string `yaml:"path"`     // appended to the service URL; default /<task>
	Method   string `yaml:"method"`   // default POST
	Response string `yaml:"response"` // auto (default: JSON when the answer says it is JSON), json (must be JSON) or text
}

// BreakerConfig is a service's circuit breaker: it opens after
// ConsecutiveFailures failed calls in a row, or when at least MinRequests
// calls within Window failed at FailureRatio or more; while open no call
// is made and messages wait (a delayed Nak that costs no attempt); after
// CoolDown one call is let through (half-open), which closes it again on
// success or reopens it on failure. A failure is a transient one
// (connection error, timeout, 5xx, 408, 429); a 4xx answer shows the
// service is up.
type BreakerConfig struct {
	ConsecutiveFailures int           `yaml:"consecutive_failures"` // default 5
	FailureRatio        float64       `yaml:"failure_ratio"`        // 0..1; default 0.5
	Window              time.Duration `yaml:"window"`               // rolling window of the ratio; default 60s
	MinRequests         int           `yaml:"min_requests"`         // calls in the window before the ratio counts; default 10
	CoolDown            time.Duration `yaml:"cool_down"`            // open → half-open after this long; default 30s
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.AuthHeader == "" {
		c.AuthHeader = DefaultAuthHeader
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Capacity == 0 {
		c.Capacity = DefaultCapacity
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	c.Breaker = c.Breaker.WithDefaults()
	return c
}

// WithDefaults fills zero fields.
func (b BreakerConfig) WithDefaults() BreakerConfig {
	if b.ConsecutiveFailures == 0 {
		b.ConsecutiveFailures = 5
	}
	if b.FailureRatio == 0 {
		b.FailureRatio = 0.5
	}
	if b.Window == 0 {
		b.Window = 60 * time.Second
	}
	if b.MinRequests == 0 {
		b.MinRequests = 10
	}
	if b.CoolDown == 0 {
		b.CoolDown = 30 * time.Second
	}
	return b
}

// MaxNameLen bounds service and task names: a plain name (events.IsName)
// that leaves room for the consumer name jobs-<service> within
// events.MaxNameLen, so that it is usable as it is in subjects
// (jobs.<service>.<task>) and consumer names.
const MaxNameLen = events.MaxNameLen - len("jobs-")

// ValidName reports whether name can name a service or a task.
func ValidName(name string) bool { return events.IsName(name) && len(name) <= MaxNameLen }

// ValidResponse reports whether s is a response mode ("" is auto).
func ValidResponse(s string) bool {
	return s == "" || s == call.ResponseAuto || s == call.ResponseJSON || s == call.ResponseText
}

// ValidMethod reports whether m is a method a call may use ("" is POST).
func ValidMethod(m string) bool {
	switch strings.ToUpper(m) {
	case "", http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodGet, http.MethodDelete:
		return true
	}
	return false
}

// Validate reports every problem of the entry under path.
func (c Config) Validate(path string) config.Problems {
	var ps config.Problems
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		ps.Add(path+".url", "is required (the service's base URL, e.g. http://127.0.0.1:9000)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		ps.Add(path+".url", "%q: want an absolute http:// or https:// URL", c.URL)
	case u.User != nil:
		ps.Add(path+".url", "must not hold credentials: put them in auth (a secret)")
	case c.Auth.IsSet():
		config.CheckCleartext(&ps, path+".url", c.URL, "the auth header", c.AllowInsecureHTTP)
	}
	if c.AuthHeader != "" && strings.ContainsAny(c.AuthHeader, " :\t\r\n") {
		ps.Add(path+".auth_header", "%q is not a header name", c.AuthHeader)
	}
	notNegative(&ps, path, field{"timeout", float64(c.Timeout)}, field{"capacity", float64(c.Capacity)},
		field{"max_response_bytes", float64(c.MaxResponseBytes)})
	ps = append(ps, validateRetry(c.Retry, path+".retry")...)
	ps = append(ps, c.Breaker.validate(path+".breaker")...)
	tasks := make([]string, 0, len(c.Tasks))
	for t := range c.Tasks {
		tasks = append(tasks, t)
	}
	sort.Strings(tasks)
	for _, name := range tasks {
		ps = append(ps, c.Tasks[name].validate(fmt.Sprintf("%s.tasks.%s", path, name), name)...)
	}
	return ps
}

func (t Task) validate(path, name string) config.Problems {
	var ps config.Problems
	if !ValidName(name) {
		ps.Add(path, "task name %q: use 1-%d letters, digits, '-' or '_' (it is a subject token)", name, MaxNameLen)
	}
	if t.Path != "" && !strings.HasPrefix(t.Path, "/") {
		ps.Add(path+".path", "%q must start with /", t.Path)
	}
	if !ValidMethod(t.Method) {
		ps.Add(path+".method", "%q: want POST, PUT, PATCH, GET or DELETE", t.Method)
	}
	if !ValidResponse(t.Response) {
		ps.Add(path+".response", "%q: want auto, json or text", t.Response)
	}
	return ps
}

func (b BreakerConfig) validate(path string) config.Problems {
	var ps config.Problems
	if b.FailureRatio < 0 || b.FailureRatio > 1 {
		ps.Add(path+".failure_ratio", "%v: want a ratio from 0 to 1", b.FailureRatio)
	}
	notNegative(&ps, path, field{"consecutive_failures", float64(b.ConsecutiveFailures)}, field{"window", float64(b.Window)},
		field{"min_requests", float64(b.MinRequests)}, field{"cool_down", float64(b.CoolDown)})
	return ps
}

// field is a numeric setting by its YAML name.
type field struct {
	name  string
	value float64
}

// notNegative reports each field below zero.
func notNegative(ps *config.Problems, path string, fields ...field) {
	for _, f := range fields {
		if f.value < 0 {
			ps.Add(path+"."+f.name, "must not be negative")
		}
	}
}

func validateRetry(r route.Retry, path string) config.Problems {
	var ps config.Problems
	if r.MaxAttempts < 0 {
		ps.Add(path+".max_attempts", "must not be negative")
	}
	if r.InitialInterval < 0 || r.MaxInterval < 0 {
		ps.Add(path, "intervals must not be negative")
	}
	if r.Multiplier != 0 && r.Multiplier < 1 {
		ps.Add(path+".multiplier", "%v: want 1 or more", r.Multiplier)
	}
	if r.Jitter < 0 || r.Jitter >= 1 {
		ps.Add(path+".jitter", "%v: want 0 to below 1", r.Jitter)
	}
	return ps
}

// TaskFor returns the task entry of name, with its defaults filled.
func (c Config) TaskFor(name string) Task {
	t := c.Tasks[name]
	if t.Path == "" {
		t.Path = "/" + name
	}
	if t.Method == "" {
		t.Method = http.MethodPost
	}
	t.Method = strings.ToUpper(t.Method)
	if t.Response == "" {
		t.Response = call.ResponseAuto
	}
	return t
}
