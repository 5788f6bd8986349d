// Package route reads the routes of the hub config: how an event becomes
// an effect. A route is exactly one durable JetStream consumer (its name is
// the consumer's name, so `nats consumer info <stream> <route>` shows its
// lag) and one target: an Odoo write (the odoowriter service) or a
// microservice call (the dispatcher). Expressions are jq, compiled at
// start-up; a bad route stops start-up with its name and the error.
package route

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/stream"
)

// Spec is one route as written in the config.
type Spec struct {
	Name        string          `yaml:"name"`        // letters, digits, - and _; the durable consumer's name
	Description string          `yaml:"description"` // shown by `nats consumer info`
	From        From            `yaml:"from"`        // which events
	Filter      string          `yaml:"filter"`      // optional jq predicate: events for which it is false or null are acknowledged and skipped
	Odoo        *OdooTarget     `yaml:"odoo"`        // write into Odoo (odoowriter)
	Dispatch    *DispatchTarget `yaml:"dispatch"`    // call a microservice (dispatcher)
	Concurrency int             `yaml:"concurrency"` // messages handled at once; default 16
	AckWait     time.Duration   `yaml:"ack_wait"`    // redelivery after this long without an ack or progress (what a killed process had pulled waits this long); default 10s
	Retry       Retry           `yaml:"retry"`       // transient failures: attempts and backoff
}

// From selects a route's events.
type From struct {
	Stream   string   `yaml:"stream"`   // GITHUB, ODOO, ODOO_CMD, JOBS, RESULTS, HEALTH or DLQ
	Subjects []string `yaml:"subjects"` // filter subjects (wildcards allowed); empty = the whole stream
	Start    string   `yaml:"start"`    // all (default: the stream's history too) or new (only events stored after the route is created)
}

// Retry is a route's retry policy; zero fields take consume.Retry's defaults.
type Retry struct {
	MaxAttempts     int           `yaml:"max_attempts"`     // deliveries before dead-lettering; default 8
	InitialInterval time.Duration `yaml:"initial_interval"` // default 1s
	MaxInterval     time.Duration `yaml:"max_interval"`     // default 5m
	Multiplier      float64       `yaml:"multiplier"`       // default 2
	Jitter          float64       `yaml:"jitter"`           // randomization factor 0..1; default 0.2
}

// Policy is the consume middleware configuration of r.
func (r Retry) Policy() consume.Retry {
	return consume.Retry{MaxAttempts: r.MaxAttempts, InitialInterval: r.InitialInterval, MaxInterval: r.MaxInterval,
		Multiplier: r.Multiplier, RandomizationFactor: r.Jitter}.WithDefaults()
}

// ConsumerOptions describe the route's durable consumer.
func (s Spec) ConsumerOptions() stream.ConsumerOptions {
	desc := s.Description
	if desc == "" {
		desc = "Pulse Hub route " + s.Name
	}
	return stream.ConsumerOptions{Name: s.Name, Stream: s.From.Stream, Subjects: s.From.Subjects, Description: desc,
		AckWait: s.AckWait, MaxAckPending: max(1000, 2*s.Concurrency), DeliverNew: s.From.Start == "new"}
}

// Target names the service that runs the route: "odoo" or "dispatch".
func (s Spec) Target() string {
	switch {
	case s.Odoo != nil:
		return "odoo"
	case s.Dispatch != nil:
		return "dispatch"
	}
	return ""
}

// reserved are the consumer names the hub's built-in routes use.
var reserved = []string{"odoo-cmd"}

// ValidateAll checks every route (path is "routes") and reports every
// problem: names (valid, unique, not reserved), streams, subject filters,
// exactly one target, start, and each jq expression compiled.
func ValidateAll(specs []Spec, path string) config.Problems {
	var ps config.Problems
	seen := map[string]int{}
	for i, s := range specs {
		p := fmt.Sprintf("%s[%d]", path, i)
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			ps.Add(p+".name", "%q is also the name of %s[%d]; route names are consumer names and must be unique", s.Name, path, j)
		}
		seen[s.Name] = i
		ps = append(ps, s.Validate(p)...)
	}
	return ps
}

// Validate checks one route; path is its place in the config.
func (s Spec) Validate(path string) config.Problems {
	var ps config.Problems
	switch {
	case !events.IsName(s.Name):
		ps.Add(path+".name", "%q: use 1-%d letters, digits, '-' or '_' (it becomes the consumer's name)", s.Name, events.MaxNameLen)
	case slices.Contains(reserved, s.Name):
		ps.Add(path+".name", "%q is reserved for a built-in route", s.Name)
	case strings.HasSuffix(s.Name, stream.ReplaySuffix):
		ps.Add(path+".name", "%q: names ending in %s are kept for replay consumers", s.Name, stream.ReplaySuffix)
	}
	ps = append(ps, s.From.validate(path+".from")...)
	if s.Filter != "" {
		if _, err := Compile(s.Filter); err != nil {
			ps.Add(path+".filter", "%v", err)
		}
	}
	switch {
	case s.Odoo == nil && s.Dispatch == nil:
		ps.Add(path, "route %q has no target: give it odoo: or dispatch:", s.Name)
	case s.Odoo != nil && s.Dispatch != nil:
		ps.Add(path, "route %q has two targets: a route is odoo: or dispatch:, not both", s.Name)
	case s.Odoo != nil:
		ps = append(ps, s.Odoo.Validate(path+".odoo")...)
	default:
		ps = append(ps, s.Dispatch.Validate(path+".dispatch")...)
	}
	if s.Concurrency < 0 {
		ps.Add(path+".concurrency", "must not be negative")
	}
	if s.AckWait < 0 || (s.AckWait > 0 && s.AckWait < time.Second) {
		ps.Add(path+".ack_wait", "must be at least 1s")
	}
	if s.Retry.MaxAttempts < 0 || s.Retry.Jitter < 0 || s.Retry.Jitter >= 1 {
		ps.Add(path+".retry", "max_attempts must be ≥ 0 and jitter in [0, 1)")
	}
	return ps
}

// streamSubjects maps each stream a route may read to its subject prefix.
var streamSubjects = map[string]string{
	events.StreamGitHub: "github.", events.StreamOdoo: "odoo.event.", events.StreamOdooCmd: "odoo.cmd.",
	events.StreamJobs: "jobs.", events.StreamResults: "results.", events.StreamHealth: "health.", events.StreamDLQ: "dlq.",
}

func (f From) validate(path string) config.Problems {
	var ps config.Problems
	prefix, ok := streamSubjects[f.Stream]
	if !ok {
		ps.Add(path+".stream", "unknown stream %q (one of GITHUB, ODOO, ODOO_CMD, JOBS, RESULTS, HEALTH, DLQ)", f.Stream)
	}
	for i, subj := range f.Subjects {
		sp := fmt.Sprintf("%s.subjects[%d]", path, i)
		if err := events.ValidateFilter(subj); err != nil {
			ps.Add(sp, "%v", err)
		} else if ok && !strings.HasPrefix(subj, prefix) {
			ps.Add(sp, "%q is not in stream %s (its subjects start with %s)", subj, f.Stream, prefix)
		}
	}
	if f.Start != "" && f.Start != "all" && f.Start != "new" {
		ps.Add(path+".start", "%q: want all or new", f.Start)
	}
	return ps
}
