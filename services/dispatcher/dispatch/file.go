package dispatch

import (
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
)

// File is the standalone dispatcher's view of hub.yaml: the shared
// sections every service reads (nats, streams, log), the routes and its own
// dispatcher: section. The standalone main loads it, and deployment tests
// derive from it (config.EnvVars) every variable the binary reads.
type File struct {
	service.Base `yaml:",inline"`
	Routes       []route.Spec `yaml:"routes"`     // the dispatcher runs those with a dispatch: target
	Dispatcher   Config       `yaml:"dispatcher"` // its own section
}

// DefaultFile is File with every default: NATS on the local default port,
// the default streams, the dispatcher's DefaultConfig.
func DefaultFile() *File {
	return &File{Base: service.DefaultBase(), Dispatcher: DefaultConfig()}
}

// Config is the dispatcher's section with the routes filled in, as Run
// takes it.
func (f *File) Config() Config {
	c := f.Dispatcher
	c.Routes = f.Routes
	return c
}

// Validate reports every problem in the sections the dispatcher reads.
func (f *File) Validate() config.Problems {
	f.Dispatcher.Routes = f.Routes
	ps := append(f.Base.Validate(), route.ValidateAll(f.Routes, "routes")...)
	return append(ps, f.Dispatcher.Validate("dispatcher")...)
}
