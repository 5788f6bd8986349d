package hubconfig

import (
	"fmt"
	"slices"
	"strings"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/route"
)

// The services `hub run --only` starts, by the name of their section.
const (
	Ingester   = "ingester"
	OdooWriter = "odoowriter"
	Dispatcher = "dispatcher"
	Healthmon  = "healthmon"
)

// Services is every service, in the order `hub run` starts them.
func Services() []string { return []string{Ingester, OdooWriter, Dispatcher, Healthmon} }

// ParseOnly reads --only: comma-separated service names, each at most
// once in the result, in the order of Services. An unknown or empty name
// is an error that lists the valid ones.
func ParseOnly(s string) ([]string, error) {
	all := Services()
	seen := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			return nil, fmt.Errorf("--only %q: an empty service name; want a comma-separated list of %s", s, strings.Join(all, ", "))
		case !slices.Contains(all, name):
			return nil, fmt.Errorf("--only %q: unknown service %q; want a comma-separated list of %s", s, name, strings.Join(all, ", "))
		}
		seen[name] = true
	}
	return slices.DeleteFunc(all, func(n string) bool { return !seen[n] }), nil
}

// ValidateFor reports the problems that matter to a hub running only the
// named services (none = all four, which is Validate): the shared sections
// (nats; embedded when nats.url is empty; streams; log; process; routes), the
// sections of the named services, and the Odoo instances (passwords
// included) when one of them talks to Odoo: the writer and the health
// monitor always, the ingester when one of its sources names an instance.
// The sections of the services left out may lack their secrets. A name
// that is not a service (see ParseOnly) is a problem too.
func (c Config) ValidateFor(only []string) config.Problems {
	c.Notices = slices.Clip(c.Notices) // Share appends to this copy's, not into the caller's array
	c.Share()
	runs := running(only)
	var ps config.Problems
	for _, name := range only {
		if !slices.Contains(Services(), name) {
			ps.Add("", "unknown service %q; the services are %s", name, strings.Join(Services(), ", "))
		}
	}
	ps = append(ps, c.validateNATS()...)
	ps = append(ps, c.Streams.Validate("streams")...)
	ps = append(ps, c.Log.Validate("log")...)
	ps = append(ps, c.Process.Validate("process")...)
	ps = append(ps, c.Tracing.Validate("tracing")...)
	if c.usesOdoo(runs) {
		for _, name := range sortedKeys(c.Odoo) {
			if !events.IsName(name) {
				ps.Add("odoo."+name, "instance name %q: use 1-%d letters, digits, '-' or '_' (routes name it, and it names a health target)", name, events.MaxNameLen)
			}
			ps = append(ps, c.Odoo[name].Validate("odoo."+name)...)
		}
	}
	ps = append(ps, route.ValidateAll(c.Routes, "routes")...)
	for _, s := range []struct {
		name     string
		validate func(string) config.Problems
	}{
		{Ingester, c.Ingester.Validate}, {OdooWriter, c.Writer.Validate},
		{Dispatcher, c.Dispatcher.Validate}, {Healthmon, c.Healthmon.Validate},
	} {
		if runs[s.name] {
			ps = append(ps, s.validate(s.name)...)
		}
	}
	return ps
}

// Reads reports whether a hub running only the named services (none =
// all) uses the setting at path (a YAML path, as config.EnvVar.Path):
// what ValidateFor checks, plus the other services' http.listen and
// http.tls_cert_file, from which the health monitor probes them. The
// deployment tests hand a container only variables its services read.
func (c Config) Reads(only []string, path string) bool {
	runs := running(only)
	section, rest, _ := strings.Cut(path, ".")
	switch section {
	case "nats", "streams", "log", "routes", "tracing":
		return true
	case "embedded":
		return c.NATS.URL == ""
	case "odoo":
		return c.usesOdoo(runs)
	case Ingester, OdooWriter, Dispatcher:
		return runs[section] || (runs[Healthmon] && (rest == "http.listen" || rest == "http.tls_cert_file"))
	case Healthmon:
		return runs[section]
	}
	return false
}

// running is the set of services named by only; all of them when empty.
func running(only []string) map[string]bool {
	if len(only) == 0 {
		only = Services()
	}
	runs := map[string]bool{}
	for _, name := range only {
		runs[name] = true
	}
	return runs
}

// usesOdoo: one of the running services talks to the Odoo instances.
func (c Config) usesOdoo(runs map[string]bool) bool {
	if runs[OdooWriter] || runs[Healthmon] {
		return true
	}
	if runs[Ingester] {
		for _, s := range c.Ingester.OdooSources {
			if s.Instance != "" {
				return true
			}
		}
	}
	return false
}
