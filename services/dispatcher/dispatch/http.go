package dispatch

import (
	"net/http"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/prometheus/client_golang/prometheus"
)

// server mounts GET /health (NATS; an open breaker does not fail it),
// GET /metrics and GET /breakers (every service's channel: breaker state,
// counts, capacity and calls in flight, for the health monitor).
func (d *Dispatcher) server(deps service.Deps, reg *prometheus.Registry) *service.Server {
	srv := service.NewServer(d.cfg.HTTP, d.log, reg)
	srv.AddCheck("nats", service.CheckJetStream(deps.Conn, deps.JS))
	srv.Handle("GET /breakers", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service.WriteJSON(w, http.StatusOK, map[string]any{"services": d.Breakers()})
	}))
	return srv
}
