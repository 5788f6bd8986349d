// Command dispatcher runs Pulse Hub's dispatcher on its own, against an external NATS
// (nats.url in hub.yaml or PULSEHUB_NATS_URL), for deployments that scale
// the services apart. `hub run` runs the same code in one process.
package main

import (
	"context"
	"os"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
)

type file struct {
	service.Base `yaml:",inline"`
	Routes       []route.Spec    `yaml:"routes"`
	Dispatcher   dispatch.Config `yaml:"dispatcher"`
}

func (f *file) Validate() config.Problems {
	f.Dispatcher.Routes = f.Routes
	ps := append(f.Base.Validate(), route.ValidateAll(f.Routes, "routes")...)
	return append(ps, f.Dispatcher.Validate("dispatcher")...)
}

func main() {
	f := &file{Base: service.DefaultBase(), Dispatcher: dispatch.DefaultConfig()}
	os.Exit(service.Main("dispatcher", f, func(ctx context.Context, deps service.Deps) error {
		f.Dispatcher.Routes = f.Routes
		return dispatch.Run(ctx, deps, f.Dispatcher)
	}))
}
