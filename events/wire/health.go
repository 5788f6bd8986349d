package wire

// Statuses of a service's GET /health and of each of its checks.
const (
	HealthOK   = "ok"
	HealthFail = "fail"

	// HealthCheckNATS names a service's check of its NATS connection;
	// the health monitor reads a 503 failing only it as a service cut off
	// from NATS, not a dead one.
	HealthCheckNATS = "nats"
)

// Health is the body of GET /health of the ingester, the Odoo writer and
// the dispatcher (events/service): 200 with status ok, or 503 with status
// fail when a check fails. `hub status` reads Status; the health monitor
// names the failing Checks. The health monitor's own GET /health answers
// its aggregate instead (monitor.Health), whose status is a health status
// (ok, warning, critical, down, unknown); it shares only Status.
type Health struct {
	Status  string                 `json:"status"`
	Version string                 `json:"version,omitempty"` // the build of the process that answered (service.Version)
	Checks  map[string]HealthCheck `json:"checks"`
	Details map[string]any         `json:"details,omitempty"` // facts that do not decide the status, by name (the dispatcher's breakers)
}

// HealthCheck is one check of a GET /health.
type HealthCheck struct {
	Status string `json:"status"`          // HealthOK or HealthFail
	Error  string `json:"error,omitempty"` // why it fails
}
