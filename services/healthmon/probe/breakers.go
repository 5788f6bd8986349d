package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// Breakers reads the dispatcher's circuit breakers from
// GET <dispatcher>/breakers (wire.Breakers), an object keyed by
// microservice:
//
//	{"ocr": {"state": "closed", ...}, "llm": {"state": "open", ...}}
//
// Each becomes target "breaker-<service>" of kind breaker: closed is ok,
// half-open (trying the service again) a warning, open (calls fail fast)
// critical. The breaker's fields are kept as its details.
type Breakers struct {
	URL    string       // the dispatcher's base URL, e.g. http://127.0.0.1:8082
	Client *http.Client // default http.DefaultClient
	Clock  Clock        // default time.Now
}

// Name is "breakers".
func (p *Breakers) Name() string { return "breakers" }

// Check reads the breakers; an error means the dispatcher did not say
// (its own target, service-dispatcher, tells whether it is up).
func (p *Breakers) Check(ctx context.Context) ([]Result, error) {
	a, err := getOK(ctx, p.Client, p.Clock, p.URL, wire.BreakersPath)
	if err != nil {
		return nil, err
	}
	var breakers wire.Breakers
	if err := json.Unmarshal(a.body, &breakers); err != nil {
		return nil, fmt.Errorf("GET %s: not a breaker object: %w", a.url, err)
	}
	names := make([]string, 0, len(breakers))
	for n := range breakers {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Result, 0, len(names))
	for _, n := range names {
		b := breakers[n]
		b.Service = n // the key names the service, whatever the body repeats
		s, msg := breakerStatus(n, b.State)
		out = append(out, Result{Target: TargetName("breaker", n), Kind: KindBreaker, Status: s, Message: msg,
			Details: detailsOf(b), CheckedAt: a.start, Latency: a.took})
	}
	return out, nil
}

func breakerStatus(service string, state wire.BreakerState) (status.Status, string) {
	switch state {
	case wire.BreakerClosed:
		return status.OK, fmt.Sprintf("breaker of %s closed: calls go through", service)
	case wire.BreakerHalfOpen:
		return status.Warning, fmt.Sprintf("breaker of %s half-open: trying %s again after failures", service, service)
	case wire.BreakerOpen:
		return status.Critical, fmt.Sprintf("breaker of %s open: calls to %s fail fast after repeated failures", service, service)
	}
	return status.Warning, fmt.Sprintf("breaker of %s in an unknown state %q", service, state)
}

// detailsOf is v's JSON object as a result's details, so the details keep
// the field names v has on the wire.
func detailsOf(v any) map[string]any {
	b, err := json.Marshal(v)
	var d map[string]any
	if err != nil || json.Unmarshal(b, &d) != nil {
		return map[string]any{}
	}
	return d
}
