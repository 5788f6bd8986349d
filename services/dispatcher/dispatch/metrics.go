package dispatch

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/dispatcher/call"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
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

	// of holds each service's series that every call or job touches,
	// resolved once: a WithLabelValues hashes its labels and takes the
	// vector's lock each time. Written by New only.
	of map[string]*serviceMetrics
}

// serviceMetrics are one service's children of the vectors above that
// the hot path uses; the others (one per status, outcome or state) are
// resolved on first use and kept in a sync.Map.
type serviceMetrics struct {
	cacheHit, cacheMiss prometheus.Counter
	inFlight            prometheus.Gauge
	latency             prometheus.Observer
	skippedOnce         sync.Once
	cacheSkipped        prometheus.Counter
	calls               sync.Map // callKey → prometheus.Counter
	jobs                sync.Map // jobstate.State → prometheus.Counter
}

type callKey struct {
	status  int
	outcome string
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
// first call, and keeps the children its calls and jobs use.
func (m *metrics) service(name string) {
	m.breaker.WithLabelValues(name).Set(0)
	m.paused.WithLabelValues(name)
	if m.of == nil {
		m.of = map[string]*serviceMetrics{}
	}
	m.of[name] = &serviceMetrics{cacheHit: m.cache.WithLabelValues(name, "hit"), cacheMiss: m.cache.WithLabelValues(name, "miss"),
		inFlight: m.inFlight.WithLabelValues(name), latency: m.latency.WithLabelValues(name)}
}

// cacheSkipped is made on first use: a service whose jobs never skip the
// cache shows no such series.
func (m *metrics) cacheSkipped(s *serviceMetrics, name string) prometheus.Counter {
	s.skippedOnce.Do(func() { s.cacheSkipped = m.cache.WithLabelValues(name, "skipped") })
	return s.cacheSkipped
}

// job counts a job state change recorded for service.
func (m *metrics) job(service string, state jobstate.State) {
	s := m.of[service]
	if s == nil {
		m.jobs.WithLabelValues(service, string(state)).Inc()
		return
	}
	c, ok := s.jobs.Load(state)
	if !ok {
		c, _ = s.jobs.LoadOrStore(state, m.jobs.WithLabelValues(service, string(state)))
	}
	c.(prometheus.Counter).Inc()
}

func (m *metrics) breakerState(service string, state wire.BreakerState) {
	m.breaker.WithLabelValues(service).Set(channel.StateValue(state))
}

func (m *metrics) observeCall(service string, ans call.Answer, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		outcome = "cancelled"
	default:
		outcome = events.Classify(err).String()
	}
	s := m.of[service]
	if s == nil {
		m.calls.WithLabelValues(service, statusLabel(ans.Status), outcome).Inc()
		m.latency.WithLabelValues(service).Observe(ans.Duration.Seconds())
		return
	}
	k := callKey{ans.Status, outcome}
	c, ok := s.calls.Load(k)
	if !ok {
		c, _ = s.calls.LoadOrStore(k, m.calls.WithLabelValues(service, statusLabel(ans.Status), outcome))
	}
	c.(prometheus.Counter).Inc()
	s.latency.Observe(ans.Duration.Seconds())
}

// statusLabel is an HTTP status as a label value: none when no answer came.
func statusLabel(status int) string {
	if status > 0 {
		return strconv.Itoa(status)
	}
	return "none"
}
