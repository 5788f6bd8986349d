// Command ingester runs Pulse Hub's ingester on its own, against an external NATS
// (nats.url in hub.yaml or PULSEHUB_NATS_URL), for deployments that scale
// the services apart. `hub run` runs the same code in one process.
package main

import (
	"context"
	"os"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
)

type file struct {
	service.Base `yaml:",inline"`
	Ingester     ingester.Config `yaml:"ingester"`
}

func (f *file) Validate() config.Problems {
	return append(f.Base.Validate(), f.Ingester.Validate("ingester")...)
}

func main() {
	f := &file{Base: service.DefaultBase(), Ingester: ingester.DefaultConfig()}
	os.Exit(service.Main("ingester", f, func(ctx context.Context, deps service.Deps) error {
		return ingester.Run(ctx, deps, f.Ingester)
	}))
}
