// Command healthmon runs Pulse Hub's health monitor on its own, against an
// external NATS (nats.url in hub.yaml or PULSEHUB_NATS_URL), for
// deployments that scale the services apart. `hub run` runs the same code
// in one process.
//
// Besides its own healthmon: section it reads the hub's odoo: instances
// (probed as odoo-<name>) and, for each of the ingester, odoowriter and
// dispatcher sections present in the file, that service's listen address
// (probed as service-<name>, with the dispatcher's breakers and the
// ingester's GitHub reconciler).
package main

import (
	"context"
	"os"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
)

type file struct {
	service.Base `yaml:",inline"`
	Monitor      monitor.Config         `yaml:"healthmon"`
	Odoo         map[string]odoo.Config `yaml:"odoo"`       // the Odoo instances to probe
	Ingester     listener               `yaml:"ingester"`   // its http.listen, when present
	Writer       listener               `yaml:"odoowriter"` // its http.listen, when present
	Dispatcher   listener               `yaml:"dispatcher"` // its http.listen, when present
}

// listener is the part of another service's section healthmon needs.
type listener struct {
	HTTP service.HTTPConfig `yaml:"http"`
}

func (f *file) Validate() config.Problems {
	ps := append(f.Base.Validate(), f.Monitor.Validate("healthmon")...)
	for name, c := range f.Odoo {
		ps = append(ps, c.Validate("odoo."+name)...)
	}
	return ps
}

// fill gives the monitor the shared sections `hub run` would give it.
func (f *file) fill() {
	f.Monitor.Odoo = f.Odoo
	f.Monitor.Services = map[string]string{}
	for name, l := range map[string]listener{"ingester": f.Ingester, "odoowriter": f.Writer, "dispatcher": f.Dispatcher} {
		if u := monitor.ServiceURL(l.HTTP.Listen, l.HTTP.TLSCertFile != ""); u != "" {
			f.Monitor.Services[name] = u
		}
	}
}

func main() {
	f := &file{Base: service.DefaultBase(), Monitor: monitor.DefaultConfig()}
	os.Exit(service.Main("healthmon", f, func(ctx context.Context, deps service.Deps) error {
		f.fill()
		return monitor.Run(ctx, deps, f.Monitor)
	}))
}
