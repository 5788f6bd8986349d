// Command odoowriter runs Pulse Hub's odoowriter on its own, against an external NATS
// (nats.url in hub.yaml or PULSEHUB_NATS_URL), for deployments that scale
// the services apart. `hub run` runs the same code in one process.
package main

import (
	"context"
	"maps"
	"os"
	"slices"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
)

// file is the writer's view of hub.yaml: the shared sections it needs
// (odoo instances, routes) besides its own.
type file struct {
	service.Base `yaml:",inline"`
	Odoo         map[string]odoo.Config `yaml:"odoo"`       // Odoo instances by name
	Routes       []route.Spec           `yaml:"routes"`     // the writer runs those with an odoo: target
	Writer       writer.Config          `yaml:"odoowriter"` // its own section
}

// writerConfig is the writer's section with the shared ones filled in.
func (f *file) writerConfig() writer.Config {
	c := f.Writer
	c.Odoo, c.Routes = f.Odoo, f.Routes
	return c
}

func (f *file) Validate() config.Problems {
	ps := f.Base.Validate()
	for _, name := range slices.Sorted(maps.Keys(f.Odoo)) {
		ps = append(ps, f.Odoo[name].Validate("odoo."+name)...)
	}
	ps = append(ps, route.ValidateAll(f.Routes, "routes")...)
	return append(ps, f.writerConfig().Validate("odoowriter")...)
}

func main() {
	f := &file{Base: service.DefaultBase(), Writer: writer.DefaultConfig()}
	os.Exit(service.Main("odoowriter", f, func(ctx context.Context, deps service.Deps) error {
		return writer.Run(ctx, deps, f.writerConfig())
	}))
}
