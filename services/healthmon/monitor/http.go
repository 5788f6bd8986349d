package monitor

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// View is a snapshot of every target and route, worst targets first.
func (m *Monitor) View() page.View {
	v := page.View{Overall: status.Unknown, GeneratedAt: m.clock.Now().UTC(), Refresh: refresh(m.cfg),
		Targets: []page.Target{}, Routes: []page.Route{}, Role: m.role(), Console: m.console != nil}
	m.mu.Lock()
	for name, t := range m.targets {
		r := t.record
		v.Targets = append(v.Targets, page.Target{Name: name, Kind: t.kind, Status: r.Status, Seen: t.seen,
			LatencyMS: r.LatencyMS, Message: r.Message, Since: r.Since, CheckedAt: r.CheckedAt})
		v.Overall = status.Worst(v.Overall, r.Status)
		if ri := t.result.Route; ri != nil {
			v.Routes = append(v.Routes, page.Route{Route: ri.Route, Target: name, Stream: ri.Stream, Status: r.Status,
				Pending: ri.Pending, AckPending: ri.AckPending, Redelivered: ri.Redelivered, DLQDepth: ri.DLQDepth,
				Advisories: m.advisories.Count(ri.Stream, ri.Route), Waiting: ri.Waiting, Replaying: ri.Replaying,
				ReplayLeft: ri.ReplayLeft, LastActive: ri.LastActive,
				DeadLetterTrace: ri.LastDeadLetterTraceID, DeadLetterTraceURL: TraceLink(m.cfg.TraceURL, ri.LastDeadLetterTraceID)})
		}
	}
	m.mu.Unlock()
	sort.Slice(v.Targets, func(i, j int) bool {
		a, b := v.Targets[i], v.Targets[j]
		if a.Status.Rank() != b.Status.Rank() {
			return a.Status.Rank() > b.Status.Rank()
		}
		return a.Name < b.Name
	})
	sort.Slice(v.Routes, func(i, j int) bool { return v.Routes[i].Route < v.Routes[j].Route })
	return v
}

// role says whether this replica publishes ("" when it has no NATS).
func (m *Monitor) role() page.Role {
	switch {
	case m.store == nil:
		return ""
	case m.publishing.Load():
		return page.Publisher
	default:
		return page.Standby
	}
}

// refresh is how often the page reloads: the probe interval, 5s at least.
func refresh(c Config) int {
	return max(int(c.Interval.Seconds()), 5)
}

func (m *Monitor) servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if err := page.Render(w, m.View()); err != nil {
		m.log.Warn("status page not written", "error", err.Error())
	}
}

func (m *Monitor) serveStatus(w http.ResponseWriter, _ *http.Request) {
	service.WriteJSON(w, http.StatusOK, m.View())
}

// Health is GET /health: the aggregate of every target. Its HTTP status
// is 503 while any target is critical or down, 200 otherwise (a target not
// probed yet is unknown and does not fail it).
type Health struct {
	Status  status.Status          `json:"status"`            // the worst known status
	Version string                 `json:"version,omitempty"` // the build of the monitor that answered (service.Version)
	Failing []string               `json:"failing"`           // "<target> <status>: <message>" of each critical or down target
	Targets map[string]TargetBrief `json:"targets"`
}

// TargetBrief is one target in GET /health.
type TargetBrief struct {
	Status    status.Status `json:"status"`
	LatencyMS float64       `json:"latency_ms"`
	Message   string        `json:"message,omitempty"`
}

func (m *Monitor) health() Health {
	v := m.View()
	h := Health{Status: v.Overall, Version: service.Version, Failing: []string{}, Targets: make(map[string]TargetBrief, len(v.Targets))}
	for _, t := range v.Targets {
		h.Targets[t.Name] = TargetBrief{Status: t.Status, LatencyMS: t.LatencyMS, Message: t.Message}
		if t.Status.Failing() {
			h.Failing = append(h.Failing, fmt.Sprintf("%s %s: %s", t.Name, t.Status, t.Message))
		}
	}
	return h
}

func (m *Monitor) serveHealth(w http.ResponseWriter, _ *http.Request) {
	h := m.health()
	code := http.StatusOK
	if len(h.Failing) > 0 {
		code = http.StatusServiceUnavailable
	}
	service.WriteJSON(w, code, h)
}
