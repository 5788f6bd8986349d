package monitor

import (
	"time"

	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
)

// HistoryWindow is how far back the monitor remembers each route's
// settled deliveries, for the console's throughput sparklines. It lives in
// memory: a restarted monitor starts a new history.
const HistoryWindow = time.Hour

// maxSamples bounds one route's history whatever the probe interval.
const maxSamples = 720

// remember adds a route's state to its history and drops what is older
// than HistoryWindow. The caller holds m.mu.
func (m *Monitor) remember(ri *stream.RouteInfo, at time.Time) {
	if m.history == nil {
		m.history = map[string][]page.Sample{}
	}
	h := append(m.history[ri.Route], page.Sample{At: at, Acked: ri.Acked})
	cut := 0
	for cut < len(h) && (at.Sub(h[cut].At) > HistoryWindow || len(h)-cut > maxSamples) {
		cut++
	}
	m.history[ri.Route] = h[cut:]
}

// History is a copy of route's samples over the last HistoryWindow,
// oldest first.
func (m *Monitor) History(route string) []page.Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]page.Sample(nil), m.history[route]...)
}
