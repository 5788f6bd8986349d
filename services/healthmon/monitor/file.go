package monitor

import (
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
)

// File is the standalone health monitor's view of hub.yaml: the shared
// sections every service reads (nats, streams, log), its own healthmon:
// section, the hub's odoo: instances (probed as odoo-<name>) and, for each
// of the ingester, odoowriter and dispatcher sections present in the file,
// that service's listen address (probed as service-<name>). The standalone
// main loads it, and deployment tests derive from it (config.EnvVars) every
// variable the binary reads.
type File struct {
	service.Base `yaml:",inline"`
	Monitor      Config                 `yaml:"healthmon"`
	Odoo         map[string]odoo.Config `yaml:"odoo"`       // the Odoo instances to probe
	Ingester     Listener               `yaml:"ingester"`   // its http.listen, when present
	Writer       Listener               `yaml:"odoowriter"` // its http.listen, when present
	Dispatcher   Listener               `yaml:"dispatcher"` // its http.listen, when present
}

// Listener is the part of another service's section healthmon needs. Where
// the services run apart (containers, pods), set the listen address to the
// name the service is reached by (ingester:8080): healthmon probes that.
type Listener struct {
	HTTP service.HTTPConfig `yaml:"http"`
}

// DefaultFile is File with every default: NATS on the local default port,
// the default streams, the monitor's DefaultConfig, no other service.
func DefaultFile() *File {
	return &File{Base: service.DefaultBase(), Monitor: DefaultConfig()}
}

// Validate reports every problem in the sections healthmon reads.
func (f *File) Validate() config.Problems {
	ps := append(f.Base.Validate(), f.Monitor.Validate("healthmon")...)
	for name, c := range f.Odoo {
		ps = append(ps, c.Validate("odoo."+name)...)
	}
	return ps
}

// Config is the monitor's section with the shared sections `hub run`
// would give it: the Odoo instances and the base URL of every service
// whose section is present.
func (f *File) Config() Config {
	c := f.Monitor
	c.Odoo = f.Odoo
	c.Services = map[string]string{}
	for name, l := range map[string]Listener{"ingester": f.Ingester, "odoowriter": f.Writer, "dispatcher": f.Dispatcher} {
		if u := ServiceURL(l.HTTP.Listen, l.HTTP.TLSCertFile != ""); u != "" {
			c.Services[name] = u
		}
	}
	return c
}
