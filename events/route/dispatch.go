package route

import (
	"net/http"
	"strings"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
)

// DispatchTarget calls a microservice with the event (the dispatcher).
// The call carries an Idempotency-Key derived from the route and the
// event's id, so redeliveries and replays of one event are one request to
// the service; its answer is published on results.<service>.<task>.
type DispatchTarget struct {
	Service       string `yaml:"service"`        // an entry of the dispatcher's services: (base URL, auth, capacity, breaker)
	Task          string `yaml:"task"`           // names the result subject results.<service>.<task>; default: the route's name
	Path          string `yaml:"path"`           // appended to the service's base URL, e.g. /extract; default: the service's task path, else /<task>
	Method        string `yaml:"method"`         // default POST
	Body          string `yaml:"body"`           // jq giving the request body; default: the event body as is
	ResultSubject string `yaml:"result_subject"` // publish the answer here (under results.) instead of results.<service>.<task>
	Response      string `yaml:"response"`       // auto (default: parsed when the answer says it is JSON), json (must be JSON, else dead-lettered) or text
}

// Validate checks the target and compiles its body expression.
func (t *DispatchTarget) Validate(path string) config.Problems {
	var ps config.Problems
	if t.Service == "" {
		ps.Add(path+".service", "is required: the name of an entry under dispatcher.services")
	} else if !events.IsName(t.Service) {
		ps.Add(path+".service", "%q: service names are 1-%d letters, digits, '-' or '_'", t.Service, events.MaxNameLen)
	}
	if t.Task != "" && !events.IsName(t.Task) {
		ps.Add(path+".task", "%q: use 1-%d letters, digits, '-' or '_' (it is a subject token)", t.Task, events.MaxNameLen)
	}
	if t.Path != "" && !strings.HasPrefix(t.Path, "/") {
		ps.Add(path+".path", "%q must start with /", t.Path)
	}
	switch strings.ToUpper(t.Method) {
	case "", http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodGet, http.MethodDelete:
	default:
		ps.Add(path+".method", "%q: want POST, PUT, PATCH, GET or DELETE", t.Method)
	}
	if t.Body != "" {
		if _, err := Compile(t.Body); err != nil {
			ps.Add(path+".body", "%v", err)
		}
	}
	if t.ResultSubject != "" {
		if err := events.ValidateResultSubject(t.ResultSubject); err != nil {
			ps.Add(path+".result_subject", "%v", err)
		}
	}
	switch t.Response {
	case "", "auto", "json", "text":
	default:
		ps.Add(path+".response", "%q: want auto, json or text", t.Response)
	}
	return ps
}
