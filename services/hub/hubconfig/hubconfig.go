// Package hubconfig is the whole hub config file (hub.yaml): the shared
// sections (nats, embedded, streams, log, routes) and one section per
// service. `hub run` and `hub config check` read it strictly; each
// service's own main reads the same file and keeps only its sections.
package hubconfig

import (
	"os"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
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
	NATS       service.NATSConfig `yaml:"nats"`       // an external NATS; empty url = the embedded server
	Embedded   embedded.Config    `yaml:"embedded"`   // the embedded server of `hub run`
	Streams    stream.Config      `yaml:"streams"`    // replicas and limits of every stream
	Log        service.LogConfig  `yaml:"log"`        // log level
	Routes     []route.Spec       `yaml:"routes"`     // how events become effects
	Ingester   ingester.Config    `yaml:"ingester"`   // webhooks in
	Writer     writer.Config      `yaml:"odoowriter"` // Odoo writes out
	Dispatcher dispatch.Config    `yaml:"dispatcher"` // microservice calls out
	Healthmon  monitor.Config     `yaml:"healthmon"`  // probes and the status page
}

// Default is the configuration with no file at all.
func Default() Config {
	return Config{
		Embedded:   embedded.DefaultConfig(),
		Streams:    stream.DefaultConfig(),
		Log:        service.LogConfig{Level: "info"},
		Ingester:   ingester.DefaultConfig(),
		Writer:     writer.DefaultConfig(),
		Dispatcher: dispatch.DefaultConfig(),
		Healthmon:  monitor.DefaultConfig(),
	}
}

// Validate reports every problem in the file at once.
func (c *Config) Validate() config.Problems {
	var ps config.Problems
	ps = append(ps, c.NATS.Validate("nats", false)...)
	if c.NATS.URL == "" {
		ps = append(ps, c.Embedded.Validate("embedded")...)
	}
	ps = append(ps, c.Streams.Validate("streams")...)
	ps = append(ps, c.Log.Validate("log")...)
	ps = append(ps, route.ValidateAll(c.Routes, "routes")...)
	ps = append(ps, c.Ingester.Validate("ingester")...)
	ps = append(ps, c.Writer.Validate("odoowriter")...)
	ps = append(ps, c.Dispatcher.Validate("dispatcher")...)
	ps = append(ps, c.Healthmon.Validate("healthmon")...)
	return ps
}

// Load reads path (or hub.yaml when path is empty and that file exists, or
// nothing) over the defaults, applies PULSEHUB_* overrides, and validates.
// It returns the file it read ("" for none).
func Load(path string) (Config, string, error) {
	if path == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			path = DefaultFile
		}
	}
	c := Default()
	err := config.Load(path, &c, config.Options{Strict: true})
	return c, path, err
}

// EnvVars lists every environment variable the hub reads.
func EnvVars() []config.EnvVar {
	c := Default()
	return config.EnvVars(&c)
}
