package consume

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/prometheus/client_golang/prometheus"
)

// Logging gives each message a logger carrying its route, subject, stream
// sequence, event id and correlation id (also put into ctx for derived
// messages), and logs how it ended: success at debug, a retry at warn, a
// dead letter at error.
type Logging struct {
	Logger *slog.Logger // default slog.Default()
}

// Middleware implements logging.
func (l Logging) Middleware(next Handler) Handler {
	base := l.Logger
	if base == nil {
		base = slog.Default()
	}
	return func(ctx context.Context, m *Msg) error {
		corr := m.Event.Correlation()
		m.log, m.lazyLog = nil, &lazyLog{base: base, attempt: m.Attempt, ids: tracing.LogAttrs(ctx)}
		ctx = events.WithCorrelationID(ctx, corr)
		start := time.Now()
		err := next(ctx, m)
		took := slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000)
		switch delay, deferred := IsDeferred(err); {
		case err == nil && m.deadLettered:
			// DeadLetter logged it with its reason.
		case err == nil:
			if base.Enabled(ctx, slog.LevelDebug) {
				m.Logger().Debug("handled", took)
			}
		case deferred:
			m.Logger().Info("deferred", took, "delay", delay.String(), "reason", err.Error())
		case ctx.Err() != nil:
			m.Logger().Info("returned to the stream on shutdown", took, "error", err.Error())
		default:
			m.Logger().Warn("failed, will retry", took, "error", err.Error(), "kind", events.Classify(err).String(),
				"retry_in", events.RetryAfterOf(err).String())
		}
		return err
	}
}

// Metrics counts messages per route. Register it once per registry.
type Metrics struct {
	processed    *prometheus.CounterVec
	failed       *prometheus.CounterVec
	retried      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	deferred     *prometheus.CounterVec
	inFlight     *prometheus.GaugeVec
	latency      *prometheus.HistogramVec
	routes       sync.Map // route → *routeMetrics
}

// routeMetrics are a route's children that every message touches,
// resolved once rather than per message (WithLabelValues hashes the
// labels and takes the vector's lock).
type routeMetrics struct {
	processed prometheus.Counter
	inFlight  prometheus.Gauge
	latency   prometheus.Observer
}

func (mt *Metrics) route(route string) *routeMetrics {
	if r, ok := mt.routes.Load(route); ok {
		return r.(*routeMetrics)
	}
	r, _ := mt.routes.LoadOrStore(route, &routeMetrics{processed: mt.processed.WithLabelValues(route),
		inFlight: mt.inFlight.WithLabelValues(route), latency: mt.latency.WithLabelValues(route)})
	return r.(*routeMetrics)
}

// NewMetrics registers the consume metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pulsehub", Subsystem: "route", Name: name, Help: help}, labels)
	}
	mt := &Metrics{
		processed:    counter("processed_total", "Messages handled successfully and acknowledged.", "route"),
		failed:       counter("failed_total", "Handler failures, by kind (transient, permanent).", "route", "kind"),
		retried:      counter("retried_total", "Messages handed back for a later retry.", "route"),
		deadLettered: counter("dead_lettered_total", "Messages stored in the DLQ stream.", "route"),
		deferred:     counter("deferred_total", "Messages put back without an attempt (e.g. circuit breaker open).", "route"),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "pulsehub", Subsystem: "route", Name: "in_flight",
			Help: "Messages being handled now."}, []string{"route"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pulsehub", Subsystem: "route", Name: "handler_duration_seconds",
			Help: "Time in the handler per message.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14)}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(mt.processed, mt.failed, mt.retried, mt.deadLettered, mt.deferred, mt.inFlight, mt.latency)
	}
	return mt
}

// Middleware implements the metrics.
func (mt *Metrics) Middleware(next Handler) Handler {
	return func(ctx context.Context, m *Msg) error {
		r := mt.route(m.Route)
		r.inFlight.Inc()
		start := time.Now()
		err := next(ctx, m)
		tracing.Observe(ctx, r.latency, time.Since(start).Seconds())
		r.inFlight.Dec()
		_, deferred := IsDeferred(err)
		switch {
		case err == nil && m.deadLettered:
			mt.failed.WithLabelValues(m.Route, "permanent").Inc()
			mt.deadLettered.WithLabelValues(m.Route).Inc()
		case err == nil:
			r.processed.Inc()
		case deferred:
			mt.deferred.WithLabelValues(m.Route).Inc()
		default:
			mt.failed.WithLabelValues(m.Route, events.Classify(err).String()).Inc()
			mt.retried.WithLabelValues(m.Route).Inc()
		}
		return err
	}
}

// Standard is the chain every route uses, outermost first: tracing,
// logging, metrics, dead-lettering, retry, panic recovery. metrics may be
// nil.
func Standard(log *slog.Logger, metrics *Metrics, dl DeadLetter, retry Retry) []Middleware {
	mws := []Middleware{Tracing, Logging{Logger: log}.Middleware}
	if metrics != nil {
		mws = append(mws, metrics.Middleware)
	}
	return append(mws, dl.Middleware, retry.Middleware, Recover)
}
