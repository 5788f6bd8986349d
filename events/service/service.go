// Package service is what every Pulse Hub service is built from: its
// dependencies (a NATS connection, JetStream, a logger, a metrics
// registry), the connection to NATS from config, JSON logging, the Go
// memory limit of the process, and an HTTP server with GET /health and
// GET /metrics that drains and shuts down without resetting its clients.
//
// A service is a package with a Config, a DefaultConfig, a Validate and
//
//	func Run(ctx context.Context, deps service.Deps, cfg Config) error
//
// which returns once ctx is done and its in-flight work is finished or
// handed back. The composition root (services/hub/root, behind `hub run
// [--only ...]`) is the only caller: it opens the connection (Open), builds
// the Deps, and runs the services under one supervisor.
package service

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Deps are what a service gets from whoever runs it.
type Deps struct {
	Conn     *nats.Conn
	JS       jetstream.JetStream
	Logger   *slog.Logger
	Registry *prometheus.Registry // the service's own; served on its /metrics
	Streams  stream.Config        // replicas and limits, for the buckets a service creates
}

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// LogConfig is the `log:` section.
type LogConfig struct {
	Level string `yaml:"level"` // debug, info, warn or error (default info)
}

// Validate reports a bad level.
func (c LogConfig) Validate(path string) config.Problems {
	var ps config.Problems
	if _, err := parseLevel(c.Level); err != nil {
		ps.Add(path+".level", "%v", err)
	}
	return ps
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return l, fmt.Errorf("unknown level %q (debug, info, warn, error)", s)
	}
	return l, nil
}

// NewLogger returns a JSON logger writing to w with the service's name on
// every line. Keys are lower_snake; see the consume package for the keys
// each message's lines carry (correlation_id, route, subject, stream_seq).
// No configured secret reaches w (ScrubHandler). A line logged with a
// context that holds a span carries its trace_id and span_id
// (tracing.LogHandler).
func NewLogger(w io.Writer, c LogConfig, serviceName string) *slog.Logger {
	level, err := parseLevel(c.Level)
	if err != nil {
		level = slog.LevelInfo
	}
	l := slog.New(tracing.LogHandler(ScrubHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))))
	if serviceName != "" {
		l = l.With("service", serviceName)
	}
	return l
}
