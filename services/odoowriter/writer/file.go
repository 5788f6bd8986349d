package writer

import (
	"maps"
	"slices"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
)

// File is the standalone writer's view of hub.yaml: the shared sections
// every service reads (nats, streams, log), the ones the writer needs
// (odoo instances, routes) and its own odoowriter: section. The standalone
// main loads it, and deployment tests derive from it (config.EnvVars) every
// variable the binary reads.
type File struct {
	service.Base `yaml:",inline"`
	Odoo         map[string]odoo.Config `yaml:"odoo"`       // Odoo instances by name
	Routes       []route.Spec           `yaml:"routes"`     // the writer runs those with an odoo: target
	Writer       Config                 `yaml:"odoowriter"` // its own section
}

// DefaultFile is File with every default: NATS on the local default port,
// the default streams, the writer's DefaultConfig.
func DefaultFile() *File {
	return &File{Base: service.DefaultBase(), Writer: DefaultConfig()}
}

// Config is the writer's section with the shared ones filled in, as Run
// takes it.
func (f *File) Config() Config {
	c := f.Writer
	c.Odoo, c.Routes = f.Odoo, f.Routes
	return c
}

// Validate reports every problem in the sections the writer reads.
func (f *File) Validate() config.Problems {
	ps := f.Base.Validate()
	for _, name := range slices.Sorted(maps.Keys(f.Odoo)) {
		ps = append(ps, f.Odoo[name].Validate("odoo."+name)...)
	}
	ps = append(ps, route.ValidateAll(f.Routes, "routes")...)
	return append(ps, f.Config().Validate("odoowriter")...)
}
