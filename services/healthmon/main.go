// Command healthmon runs Pulse Hub's healthmon on its own, against an external NATS
// (nats.url in hub.yaml or PULSEHUB_NATS_URL), for deployments that scale
// the services apart. `hub run` runs the same code in one process.
package main

import (
	"context"
	"os"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
)

type file struct {
	service.Base `yaml:",inline"`
	Monitor      monitor.Config `yaml:"healthmon"`
}

func (f *file) Validate() config.Problems {
	return append(f.Base.Validate(), f.Monitor.Validate("healthmon")...)
}

func main() {
	f := &file{Base: service.DefaultBase(), Monitor: monitor.DefaultConfig()}
	os.Exit(service.Main("healthmon", f, func(ctx context.Context, deps service.Deps) error {
		return monitor.Run(ctx, deps, f.Monitor)
	}))
}
