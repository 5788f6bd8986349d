package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// Breakers reads the dispatcher's circuit breakers from
// GET <dispatcher>/breakers, an object keyed by microservice:
//
//	{"ocr": {"state": "closed", ...}, "llm": {"state": "open", ...}}
//
// Each becomes target "breaker-<service>" of kind breaker: closed is ok,
// half-open (trying the service again) a warning, open (calls fail fast)
// critical. Other fields of a breaker are kept as its details.
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
	a, err := getOK(ctx, p.Client, p.Clock, p.URL, "/breakers")
	if err != nil {
		return nil, err
	}
	var breakers map[string]map[string]any
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
		state, _ := b["state"].(string)
		s, msg := breakerStatus(n, state)
		b["service"] = n
		out = append(out, Result{Target: TargetName("breaker", n), Kind: KindBreaker, Status: s, Message: msg,
			Details: b, CheckedAt: a.start, Latency: a.took})
	}
	return out, nil
}

func breakerStatus(service, state string) (status.Status, string) {
	switch strings.ToLower(state) {
	case "closed":
		return status.OK, fmt.Sprintf("breaker of %s closed: calls go through", service)
	case "half-open", "half_open", "halfopen":
		return status.Warning, fmt.Sprintf("breaker of %s half-open: trying %s again after failures", service, service)
	case "open":
		return status.Critical, fmt.Sprintf("breaker of %s open: calls to %s fail fast after repeated failures", service, service)
	}
	return status.Warning, fmt.Sprintf("breaker of %s in an unknown state %q", service, state)
}
