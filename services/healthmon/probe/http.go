package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// HTTP probes a health URL: a microservice's /health, Odoo's
// /web/health?db_server_status=1, or one of the hub's own services.
//
// No answer (refused, reset, timed out) is down. An answer with another
// status than ExpectStatus, or a body that says it is failing, is
// critical. The body is read when it is JSON: {"status": "pass"|"ok"} is
// healthy, "warn" a warning, "fail" critical; "db_server_status": false
// (Odoo's database unreachable) critical; failing entries of a "checks"
// object (the hub's services) are named in the message. A slow answer is
// graded by Latency.
type HTTP struct {
	Target       string         // the target's name, e.g. "http-ocr"
	Kind         string         // KindHTTP (default) or KindService
	URL          string         // the URL to GET
	ExpectStatus int            // the healthy status code; default 200
	Latency      status.Latency // slow-answer thresholds
	Client       *http.Client   // default http.DefaultClient; deadlines come from ctx
	Clock        Clock          // default time.Now
}

// Name is the target's name.
func (p *HTTP) Name() string { return p.Target }

// Check GETs the URL once.
func (p *HTTP) Check(ctx context.Context) ([]Result, error) {
	return []Result{p.check(ctx)}, nil
}

func (p *HTTP) check(ctx context.Context) Result {
	r := Result{Target: p.Target, Kind: p.Kind, CheckedAt: p.Clock.Now()}
	if r.Kind == "" {
		r.Kind = KindHTTP
	}
	code, body, err := get(ctx, p.Client, p.URL)
	r.Latency = p.Clock.Now().Sub(r.CheckedAt)
	r.Details = map[string]any{"url": redact(p.URL)}
	if err != nil {
		r.Status, r.Message = status.Down, err.Error()
		return r
	}
	r.Details["http_status"] = code
	h := parseHealth(body)
	h.addDetails(r.Details)
	want := p.ExpectStatus
	if want == 0 {
		want = http.StatusOK
	}
	if code != want {
		r.Status = status.Critical
		if r.Kind == KindService && h.onlyNATS() {
			// The service runs and answers; it is cut off from NATS (a
			// server of the cluster died, a leader election): the nats
			// target grades NATS itself, and a service that is merely
			// riding out a failover is not a dead service.
			r.Status = status.Warning
		}
		r.Message = joinMessage(fmt.Sprintf("HTTP %d (want %d)", code, want), h.problem())
		return r
	}
	r.Status, r.Message = h.verdict()
	return graded(r, p.Latency)
}

// health is what a JSON health body says about itself: a superset of the
// hub's own services' body (wire.Health) that also reads Odoo's and other
// services' answers. A check that is not a wire.HealthCheck is passed over.
type health struct {
	Status   string                     `json:"status"`
	DBStatus *bool                      `json:"db_server_status"`
	Checks   map[string]json.RawMessage `json:"checks"`
	failing  []string                   // "name: error" of each failing check
	names    []string                   // the failing checks' names
}

// onlyNATS reports whether the one failing check is the NATS connection's.
func (h health) onlyNATS() bool {
	return len(h.names) == 1 && h.names[0] == wire.HealthCheckNATS
}

func parseHealth(body []byte) health {
	var h health
	if json.Unmarshal(body, &h) != nil {
		return health{}
	}
	names := make([]string, 0, len(h.Checks))
	for n := range h.Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var c wire.HealthCheck
		if json.Unmarshal(h.Checks[n], &c) == nil && !isHealthy(c.Status) {
			h.failing = append(h.failing, strings.TrimSuffix(n+": "+c.Error, ": "))
			h.names = append(h.names, n)
		}
	}
	return h
}

func isHealthy(s string) bool {
	switch strings.ToLower(s) {
	case "", "pass", "ok", "up", "healthy":
		return true
	}
	return false
}

func isWarning(s string) bool {
	switch strings.ToLower(s) {
	case "warn", "warning", "degraded":
		return true
	}
	return false
}

// verdict judges a body that came with the expected status code.
func (h health) verdict() (status.Status, string) {
	switch {
	case h.DBStatus != nil && !*h.DBStatus, len(h.failing) > 0, !isHealthy(h.Status) && !isWarning(h.Status):
		return status.Critical, h.problem()
	case isWarning(h.Status):
		return status.Warning, h.problem()
	}
	return status.OK, ""
}

// problem says what the body reports as wrong, "" when nothing.
func (h health) problem() string {
	var parts []string
	if h.Status != "" && !isHealthy(h.Status) {
		parts = append(parts, fmt.Sprintf("status %q", h.Status))
	}
	if h.DBStatus != nil && !*h.DBStatus {
		parts = append(parts, "database server unreachable")
	}
	if len(h.failing) > 0 {
		parts = append(parts, "failing checks: "+strings.Join(h.failing, ", "))
	}
	return strings.Join(parts, "; ")
}

func (h health) addDetails(d map[string]any) {
	if h.Status != "" {
		d["body_status"] = h.Status
	}
	if h.DBStatus != nil {
		d["db_server_status"] = *h.DBStatus
	}
}
