package dispatch

import (
	"context"
	"net/http"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// server mounts GET /health (NATS; breaker states shown under details, an
// open breaker does not fail it),
// GET /metrics and GET /breakers (wire.Breakers): an object keyed by
// service, each with its breaker state (closed, half-open, open), counts,
// capacity and calls in flight, which the health monitor's breaker probe
// reads:
//
//	{"ocr": {"service": "ocr", "state": "open", "opened_at": "…", "capacity": 2, …}}
func (d *Dispatcher) server(deps service.Deps, reg *prometheus.Registry) *service.Server {
	srv := service.NewServer(d.cfg.HTTP, d.log, reg)
	srv.AddCheck(wire.HealthCheckNATS, service.CheckJetStream(deps.Conn, deps.JS))
	srv.AddDetail("breakers", func(context.Context) any { return d.Breakers() })
	srv.Handle("GET "+wire.BreakersPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := wire.Breakers{}
		for _, s := range d.Breakers() {
			out[s.Service] = s
		}
		service.WriteJSON(w, http.StatusOK, out)
	}))
	return srv
}
