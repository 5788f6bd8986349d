package service

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/stream"
)

// Base is the part of hub.yaml every standalone service reads.
type Base struct {
	NATS    NATSConfig    `yaml:"nats"`    // required for a standalone service
	Streams stream.Config `yaml:"streams"` // the service ensures the streams exist (idempotent)
	Log     LogConfig     `yaml:"log"`
}

// DefaultBase is the defaults of Base, with NATS on the local default port.
func DefaultBase() Base {
	return Base{NATS: NATSConfig{URL: "nats://127.0.0.1:4222"}, Streams: stream.DefaultConfig(), Log: LogConfig{Level: "info"}}
}

// Validate reports problems in the shared sections.
func (b Base) Validate() config.Problems {
	ps := b.NATS.Validate("nats", true)
	ps = append(ps, b.Streams.Validate("streams")...)
	return append(ps, b.Log.Validate("log")...)
}

// File is a standalone service's view of hub.yaml: the shared sections
// plus its own. Implemented by a struct embedding Base (`yaml:",inline"`).
type File interface {
	config.Validator
	base() *Base
}

func (b *Base) base() *Base { return b }

// Main is the whole main of a standalone service: flags (--config), the
// config file read non-strictly (hub.yaml holds the other services'
// sections too) with PULSEHUB_* overrides, JSON logs, the NATS connection,
// the streams ensured, SIGINT/SIGTERM for a graceful stop. It returns the
// exit status.
func Main(name string, file File, run func(context.Context, Deps) error) int {
	return main(name, os.Args[1:], os.Stdout, os.Stderr, file, run)
}

func main(name string, args []string, stdout, stderr io.Writer, file File, run func(context.Context, Deps) error) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "hub.yaml", "config file (the hub's hub.yaml); missing = defaults and PULSEHUB_* variables")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if _, err := os.Stat(*path); err != nil {
		*path = ""
	}
	if err := config.Load(*path, file, config.Options{}); err != nil {
		fmt.Fprintf(stderr, "%s: config:\n%v\n", name, err)
		return 2
	}
	b := file.base()
	log := NewLogger(stdout, b.Log, name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, js, err := Connect(ctx, b.NATS, "pulsehub-"+name, log)
	if err != nil {
		log.Error("connect to NATS", "error", err.Error())
		return 1
	}
	defer func() { _ = nc.Drain() }()
	ectx, cancel := context.WithTimeout(ctx, 60*time.Second)
	_, err = stream.Ensure(ectx, js, stream.Specs(b.Streams)...)
	cancel()
	if err != nil {
		log.Error("ensure streams", "error", err.Error())
		return 1
	}
	log.Info("starting", "nats", b.NATS.URL, "config", *path)
	if err := run(ctx, Deps{Conn: nc, JS: js, Logger: log, Registry: NewRegistry(), Streams: b.Streams}); err != nil {
		log.Error("stopped with an error", "error", err.Error())
		return 1
	}
	log.Info("stopped")
	return 0
}
