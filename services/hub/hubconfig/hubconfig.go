// Package hubconfig is the whole hub config file (hub.yaml): the shared
// sections (nats, embedded, streams, log, routes) and one section per
// service. `hub run` and `hub config check` read it strictly; `hub run
// --only` checks the shared sections and those of the services it runs
// (ValidateFor).
package hubconfig

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
	"github.com/insightpulse/pulsehub/services/hub/embedded"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
)

// DefaultFile is read by `hub run` when no --config is given, if it exists.
const DefaultFile = "hub.yaml"

// Config is hub.yaml.
type Config struct {
	NATS       service.NATSConfig     `yaml:"nats"`       // an external NATS; empty url = the embedded server
	Embedded   embedded.Config        `yaml:"embedded"`   // the embedded server of `hub run`
	Streams    stream.Config          `yaml:"streams"`    // replicas and limits of every stream
	Log        service.LogConfig      `yaml:"log"`        // log level
	Process    service.ProcessConfig  `yaml:"process"`    // the Go runtime of the process: its memory limit
	Tracing    tracing.Config         `yaml:"tracing"`    // OpenTelemetry spans over OTLP/HTTP, with the OTEL_* variables; off by default
	Odoo       map[string]odoo.Config `yaml:"odoo"`       // Odoo instances by name; routes use "default" unless they say otherwise
	Routes     []route.Spec           `yaml:"routes"`     // how events become effects
	Ingester   ingester.Config        `yaml:"ingester"`   // webhooks in
	Writer     writer.Config          `yaml:"odoowriter"` // Odoo writes out
	Dispatcher dispatch.Config        `yaml:"dispatcher"` // microservice calls out
	Healthmon  monitor.Config         `yaml:"healthmon"`  // probes and the status page

	// Notices are things Load decided that the operator should read in the
	// log (e.g. GitHub webhooks off because nothing is configured).
	Notices []string `yaml:"-"`

	zeroConfig bool     // no config file: quick-start defaults apply
	scope      []string // the services whose sections Validate checks; nil = all
	opsOnly    bool     // an operator command: Validate checks only how to reach NATS
}

// Default is the configuration with no file at all.
func Default() Config {
	return Config{
		Embedded:   embedded.DefaultConfig(),
		Streams:    stream.DefaultConfig(),
		Log:        service.LogConfig{Level: "info"},
		Tracing:    tracing.DefaultConfig(),
		Ingester:   ingester.DefaultConfig(),
		Writer:     writer.DefaultConfig(),
		Dispatcher: dispatch.DefaultConfig(),
		Healthmon:  monitor.DefaultConfig(),
	}
}

// Share copies the shared sections (odoo instances, routes, the services'
// addresses) into the service sections that read them. Validate calls it,
// so every service section is checked with what it will run with.
func (c *Config) Share() {
	c.Ingester.Odoo = c.Odoo
	c.Ingester.GitHub.DuplicateWindow = c.githubDuplicateWindow()
	c.Writer.Odoo, c.Writer.Routes = c.Odoo, c.Routes
	c.Dispatcher.Routes = c.Routes
	c.Healthmon.Odoo = c.Odoo
	c.Healthmon.Services = map[string]string{}
	for name, h := range map[string]service.HTTPConfig{"ingester": c.Ingester.HTTP, "odoowriter": c.Writer.HTTP, "dispatcher": c.Dispatcher.HTTP} {
		if u := monitor.ServiceURL(h.Listen, h.TLSCertFile != ""); u != "" {
			c.Healthmon.Services[name] = u
		}
	}
	if c.zeroConfig && c.Ingester.GitHub.Enabled && len(c.Ingester.GitHub.WebhookSecrets) == 0 && !c.Ingester.GitHub.InsecureSkipSignature {
		// `hub run` with no config file must start (the quick start), but
		// never accepts unsigned deliveries: POST /github stays off until a
		// secret is given. A config file that enables GitHub without a
		// secret is still refused.
		c.Ingester.GitHub.Enabled = false
		c.notice("GitHub webhooks are off: no webhook secret; set PULSEHUB_GITHUB_WEBHOOK_SECRET (or _FILE) to turn POST /github on")
	}
}

// githubDuplicateWindow is the GITHUB stream's duplicate window as the
// streams will be ensured with: the configured one, else the default.
func (c *Config) githubDuplicateWindow() time.Duration {
	if l, ok := c.Streams.Limits[events.StreamGitHub]; ok {
		return l.DuplicateWindow
	}
	return stream.DefaultConfig().Limits[events.StreamGitHub].DuplicateWindow
}

// ServiceURLs maps each service to the base URL its /health answers on.
func (c *Config) ServiceURLs() map[string]string {
	out := map[string]string{}
	for name, h := range map[string]service.HTTPConfig{"ingester": c.Ingester.HTTP, "odoowriter": c.Writer.HTTP,
		"dispatcher": c.Dispatcher.HTTP, "healthmon": c.Healthmon.HTTP} {
		if u := monitor.ServiceURL(h.Listen, h.TLSCertFile != ""); u != "" {
			out[name] = u
		}
	}
	return out
}

// Validate reports every problem in the file at once, in the sections the
// command that loaded it uses (see LoadFor and LoadForOps), with the
// shared sections copied into the services' (Share) so the caller runs
// with what was checked.
func (c *Config) Validate() config.Problems {
	if c.opsOnly {
		return c.validateNATS()
	}
	c.Share()
	for _, path := range config.ShortSecrets(c) {
		c.notice(fmt.Sprintf("%s is shorter than %d bytes: a secret that short is not scrubbed from logs, stored errors and pages "+
			"(it would blank ordinary words); use a longer one (an API key, or openssl rand -hex 24)", path, config.MinSecretBytes))
	}
	return c.ValidateFor(c.scope)
}

// notice adds n to Notices once, however often the config is validated.
func (c *Config) notice(n string) {
	if !slices.Contains(c.Notices, n) {
		c.Notices = append(c.Notices, n)
	}
}

// validateNATS checks how to reach NATS: all an operator command uses.
func (c *Config) validateNATS() config.Problems {
	ps := c.NATS.Validate("nats", false)
	if c.NATS.URL == "" {
		ps = append(ps, c.Embedded.Validate("embedded")...)
	}
	return ps
}

// Load reads path (or hub.yaml when path is empty and that file exists, or
// nothing) over the defaults, applies PULSEHUB_* overrides, and validates.
// It returns the file it read ("" for none).
func Load(path string) (Config, string, error) {
	return load(path, Config{}, nil)
}

// LoadFor is Load for `hub run --only`: it validates the shared sections
// and the sections of the services in only (nil = all), after override
// (the command line's flags) has changed what the file and the
// environment said.
func LoadFor(path string, only []string, override func(*Config)) (Config, string, error) {
	return load(path, Config{scope: only}, override)
}

// LoadForOps is Load for the operator commands (status, replay, dlq,
// jobs): they only read NATS, so only how to reach it is validated (an
// Odoo password kept in a service's environment is not required here).
func LoadForOps(path string, override func(*Config)) (Config, string, error) {
	return load(path, Config{opsOnly: true}, override)
}

func load(path string, scope Config, override func(*Config)) (Config, string, error) {
	if path == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			path = DefaultFile
		}
	}
	c := Default()
	c.zeroConfig = path == ""
	c.scope, c.opsOnly = scope.scope, scope.opsOnly
	opts := config.Options{Strict: true}
	if override != nil {
		opts.Override = func() { override(&c) }
	}
	err := config.Load(path, &c, opts)
	return c, path, err
}

// EnvVars lists every environment variable the hub reads.
func EnvVars() []config.EnvVar {
	c := Default()
	return config.EnvVars(&c)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
