package apply

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/prometheus/client_golang/prometheus"
)

// Monitor records every call to Odoo: its latency by instance, model,
// method and outcome, and each instance's last outcome for /health/odoo.
type Monitor struct {
	latency *prometheus.HistogramVec
	up      *prometheus.GaugeVec

	mu        sync.Mutex
	instances map[string]*InstanceStatus
}

// Outcomes of a call, as the latency metric labels them.
const (
	OutcomeOK        = "ok"        // Odoo answered with a result
	OutcomePermanent = "permanent" // Odoo answered with a fault retrying cannot fix
	OutcomeTransient = "transient" // no answer, or one that says to try later
)

// InstanceStatus is what the writer last saw of one Odoo instance.
type InstanceStatus struct {
	Instance    string    `json:"instance"`
	State       string    `json:"state"` // up (Odoo answered, even with a fault), down (the last call failed transiently) or unknown (no call yet)
	LastCall    time.Time `json:"last_call,omitzero"`
	LastOK      time.Time `json:"last_ok,omitzero"` // the last call Odoo answered
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// NewMonitor registers the call metrics on reg (nil: not registered) and
// knows instances as unknown until their first call.
func NewMonitor(reg prometheus.Registerer, instances []string) *Monitor {
	m := &Monitor{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pulsehub", Subsystem: "odoowriter",
			Name: "odoo_call_duration_seconds", Help: "Calls to Odoo by instance, model, method and outcome (ok, permanent, transient).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"instance", "model", "method", "outcome"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "pulsehub", Subsystem: "odoowriter", Name: "odoo_up",
			Help: "1 when the last call to the Odoo instance got an answer, 0 when it failed transiently."}, []string{"instance"}),
		instances: map[string]*InstanceStatus{},
	}
	for _, name := range instances {
		m.instances[name] = &InstanceStatus{Instance: name, State: "unknown"}
	}
	if reg != nil {
		reg.MustRegister(m.latency, m.up)
	}
	return m
}

// call runs one execute_kw through c and records it.
func (m *Monitor) call(ctx context.Context, c *odoo.Client, inst, model, method string, args []any, kw map[string]any) (any, error) {
	start := time.Now()
	v, err := c.ExecuteKW(ctx, model, method, args, kw)
	if ctx.Err() != nil && err != nil {
		return v, err // cancelled by our own shutdown: says nothing about Odoo
	}
	m.record(inst, model, method, time.Since(start), err)
	return v, err
}

func (m *Monitor) record(inst, model, method string, took time.Duration, err error) {
	outcome := OutcomeOK
	switch {
	case err == nil:
	case events.IsPermanent(err):
		outcome = OutcomePermanent
	default:
		outcome = OutcomeTransient
	}
	m.latency.WithLabelValues(inst, model, method, outcome).Observe(took.Seconds())
	now := time.Now().UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.instances[inst]
	if s == nil {
		s = &InstanceStatus{Instance: inst}
		m.instances[inst] = s
	}
	s.LastCall = now
	if outcome == OutcomeTransient {
		s.State, s.LastError, s.LastErrorAt = "down", config.Scrub(err.Error()), now
		m.up.WithLabelValues(inst).Set(0)
		return
	}
	s.State, s.LastOK = "up", now
	if err != nil {
		s.LastError, s.LastErrorAt = config.Scrub(err.Error()), now // served on /health/odoo
	}
	m.up.WithLabelValues(inst).Set(1)
}

// Status lists every instance's status, by name.
func (m *Monitor) Status() []InstanceStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]InstanceStatus, 0, len(m.instances))
	for _, s := range m.instances {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Instance < out[j].Instance })
	return out
}
