// Package monitor is the health monitor of Pulse Hub. Until its issue lands it only
// reports healthy; Run has the signature every service shares.
package monitor

import (
	"context"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
)

// Config is the `healthmon:` section of the hub config.
type Config struct {
	HTTP service.HTTPConfig `yaml:"http"` // GET /health and GET /metrics
}

// DefaultConfig listens on 127.0.0.1:8090.
func DefaultConfig() Config {
	return Config{HTTP: service.HTTPConfig{Listen: "127.0.0.1:8090"}}
}

// Validate reports every problem under path.
func (c Config) Validate(path string) config.Problems {
	return c.HTTP.Validate(path + ".http")
}

// Run serves /health and /metrics until ctx is done.
func Run(ctx context.Context, deps service.Deps, cfg Config) error {
	srv := service.NewServer(cfg.HTTP, deps.Logger, deps.Registry)
	srv.AddCheck("nats", service.CheckJetStream(deps.Conn, deps.JS))
	return srv.Run(ctx)
}
