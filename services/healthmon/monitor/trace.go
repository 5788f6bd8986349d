package monitor

import (
	"net/url"
	"strings"

	"github.com/insightpulse/pulsehub/events/config"
)

// traceIDPlaceholder is where TraceURL takes the trace id.
const traceIDPlaceholder = "{trace_id}"

func validateTraceURL(ps *config.Problems, path, tmpl string) {
	if tmpl == "" {
		return
	}
	if !strings.Contains(tmpl, traceIDPlaceholder) {
		ps.Add(path, "must contain %s where the trace id goes", traceIDPlaceholder)
		return
	}
	u, err := url.Parse(strings.ReplaceAll(tmpl, traceIDPlaceholder, "0"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.Add(path, "must be an http:// or https:// URL, e.g. http://localhost:16686/trace/%s", traceIDPlaceholder)
	}
}

// TraceLink is tmpl with id in place of {trace_id}; "" when either is
// empty. id is a trace id as tracing.TraceID returns it (32 hex digits),
// so it needs no escaping; the page escapes the whole link anyway.
func TraceLink(tmpl, id string) string {
	if tmpl == "" || id == "" {
		return ""
	}
	return strings.ReplaceAll(tmpl, traceIDPlaceholder, id)
}
