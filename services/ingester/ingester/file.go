package ingester

import (
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
)

// File is the standalone ingester's view of hub.yaml: the shared sections
// every service reads (nats, streams, log), the hub's Odoo instances and
// its own ingester: section. The standalone main loads it, and deployment
// tests derive from it (config.EnvVars) every variable the binary reads.
type File struct {
	service.Base `yaml:",inline"`
	Odoo         map[string]odoo.Config `yaml:"odoo"`     // the hub's Odoo instances, for the sources' polls and ce-source
	Ingester     Config                 `yaml:"ingester"` // the ingester's own section
}

// DefaultFile is File with every default: NATS on the local default port,
// the default streams, the ingester's DefaultConfig.
func DefaultFile() *File {
	return &File{Base: service.DefaultBase(), Ingester: DefaultConfig()}
}

// Config is the ingester's section with the shared Odoo instances filled
// in, as Run takes it.
func (f *File) Config() Config {
	c := f.Ingester
	c.Odoo = f.Odoo
	return c
}

// Validate reports every problem in the sections the ingester reads.
func (f *File) Validate() config.Problems {
	f.Ingester.Odoo = f.Odoo
	ps := append(f.Base.Validate(), f.Ingester.Validate("ingester")...)
	for name, inst := range f.Odoo {
		ps = append(ps, inst.Validate("odoo."+name)...)
	}
	return ps
}
