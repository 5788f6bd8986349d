// Command ingester runs Pulse Hub's ingester on its own, against an external NATS
// (nats.url in hub.yaml or PULSEHUB_NATS_URL), for deployments that scale
// the services apart. `hub run` runs the same code in one process.
package main

import (
	"context"
	"os"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
)

type file struct {
	service.Base `yaml:",inline"`
	Odoo         map[string]odoo.Config `yaml:"odoo"` // the hub's Odoo instances, for the sources' polls and ce-source
	Ingester     ingester.Config        `yaml:"ingester"`
}

func (f *file) Validate() config.Problems {
	f.Ingester.Odoo = f.Odoo
	ps := append(f.Base.Validate(), f.Ingester.Validate("ingester")...)
	for name, inst := range f.Odoo {
		ps = append(ps, inst.Validate("odoo."+name)...)
	}
	return ps
}

func main() {
	f := &file{Base: service.DefaultBase(), Ingester: ingester.DefaultConfig()}
	os.Exit(service.Main("ingester", f, func(ctx context.Context, deps service.Deps) error {
		f.Ingester.Odoo = f.Odoo
		return ingester.Run(ctx, deps, f.Ingester)
	}))
}
