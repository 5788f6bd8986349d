package dispatch

import (
	"context"
	"errors"
	"strconv"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/dispatcher/call"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dispatcher's own series (the route loops add the
// shared pulsehub_route_* ones).
type metrics struct {
	calls    *prometheus.CounterVec   // service, status, outcome
	latency  *prometheus.HistogramVec // service
	inFlight *prometheus.GaugeVec     // service
	breaker  *prometheus.GaugeVec     // service
	cache    *prometheus.CounterVec   // service, result
	jobs     *prometheus.CounterVec   // service, state
	deferred *prometheus.CounterVec   // service, reason
	paused   *prometheus.CounterVec   // service
	records  *prometheus.CounterVec   // service, read
}

func newMetrics(reg prometheus.Registerer) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "pulsehub", Subsystem: "dispatcher", Name: name, Help: help}
	}
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts(opts("calls_total",
			"Calls to microservices by service, HTTP status (none when no answer came) and outcome (ok, transient, permanent, cancelled).")),
			[]string{"service", "status", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pulsehub", Subsystem: "dispatcher",
			Name: "call_duration_seconds", Help: "Duration of calls to microservices, answer body included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}, []string{"service"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("in_flight", "Calls in flight per service.")), []string{"service"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("breaker_state",
			"Circuit breaker state per service: 0 closed, 1 half-open, 2 open.")), []string{"service"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts(opts("cache_lookups_total",
			"Result cache lookups by service and result (hit, miss, or skipped when the job's record proves no answer can exist yet).")),
			[]string{"service", "result"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts(opts("jobs_total",
			"Job state changes recorded, by service and the state entered.")), []string{"service", "state"}),
		deferred: prometheus.NewCounterVec(prometheus.CounterOpts(opts("deferred_total",
			"Messages put back without a call or an attempt, by service and reason (breaker open, breaker half-open, saturated, eta).")),
			[]string{"service", "reason"}),
		paused: prometheus.NewCounterVec(prometheus.CounterOpts(opts("paused_seconds_total",
			"Time the service's consume loops spent pulling nothing because its breaker was open (or half-open with its probe under way).")),
			[]string{"service"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts(opts("job_records_total",
			"Job deliveries by whether the job's record was read first (read) or taken from Enqueue's mark on its first delivery (skipped).")),
			[]string{"service", "read"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.latency, m.inFlight, m.breaker, m.cache, m.jobs, m.deferred, m.paused, m.records)
	}
	return m
}

// service sets a service's series to zero, so they exist before the
// first call.
func (m *metrics) service(name string) {
	m.inFlight.WithLabelValues(name)
	m.breaker.WithLabelValues(name).Set(0)
	m.cache.WithLabelValues(name, "hit")
	m.cache.WithLabelValues(name, "miss")
	m.paused.WithLabelValues(name)
}

func (m *metrics) breakerState(service string, state wire.BreakerState) {
	m.breaker.WithLabelValues(service).Set(channel.StateValue(state))
}

func (m *metrics) observeCall(service string, ans call.Answer, err error) {
	status := "none"
	if ans.Status > 0 {
		status = strconv.Itoa(ans.Status)
	}
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		outcome = "cancelled"
	default:
		outcome = events.Classify(err).String()
	}
	m.calls.WithLabelValues(service, status, outcome).Inc()
	m.latency.WithLabelValues(service).Observe(ans.Duration.Seconds())
}
