package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/nats-io/nats.go/jetstream"
)

// TargetReconciler is the GitHub reconciler's target name.
const TargetReconciler = "github-reconciler"

// ReconcilerThresholds grade the GitHub redelivery reconciler. A zero
// threshold is off.
type ReconcilerThresholds struct {
	FailedWarning  float64       `yaml:"failed_warning"`  // failed deliveries found in the last window; default 1
	FailedCritical float64       `yaml:"failed_critical"` // default 100
	StaleAfter     time.Duration `yaml:"stale_after"`     // no pass for this long is a warning; default 30m (six passes of 5m)
}

// DefaultReconcilerThresholds warn at any failed delivery.
func DefaultReconcilerThresholds() ReconcilerThresholds {
	return ReconcilerThresholds{FailedWarning: 1, FailedCritical: 100, StaleAfter: 30 * time.Minute}
}

// Reconciler reads the ingester's GitHub reconciler gauges
// (wire.MetricReconcilerFailed, wire.MetricReconcilerLastRun) from
// GET <ingester>/metrics (Prometheus text). Failed deliveries found in the
// last window are a warning (many: critical), and so is a reconciler whose
// last pass is older than StaleAfter. When the ingester exports neither
// gauge the reconciler is not running (no GitHub App configured) and there
// is no target.
//
// With JS, the failed deliveries and the last pass come from the
// reconciler's checkpoint in KV when there is one: of several ingester
// replicas one runs the reconciler (it holds a lease), and the replica
// that answered /metrics may be one standing by, whose gauges are zero.
// The checkpoint also says why the last pass failed (its error class):
// GitHub refusing the App's JWT (a clock that is off, a wrong key) is
// critical, a rate limit or GitHub away a warning.
type Reconciler struct {
	URL        string // the ingester's base URL, e.g. http://127.0.0.1:8080
	Thresholds ReconcilerThresholds
	Client     *http.Client        // default http.DefaultClient
	Clock      Clock               // default time.Now
	JS         jetstream.JetStream // may be nil: the gauges alone
}

// Name is "github-reconciler".
func (p *Reconciler) Name() string { return TargetReconciler }

// Check reads the gauges; an error means the ingester's metrics could not
// be read (its own target, service-ingester, tells whether it is up).
func (p *Reconciler) Check(ctx context.Context) ([]Result, error) {
	a, err := getOK(ctx, p.Client, p.Clock, p.URL, "/metrics")
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(a.body))
	if err != nil {
		return nil, fmt.Errorf("GET %s: not Prometheus text: %w", a.url, err)
	}
	failed, hasFailed := gaugeSum(families[wire.MetricReconcilerFailed])
	lastRun, hasLastRun := gaugeSum(families[wire.MetricReconcilerLastRun])
	if !hasFailed && !hasLastRun {
		return nil, nil
	}
	source := "metrics"
	var cp wire.ReconcilerCheckpoint
	if c, ok := p.checkpoint(ctx); ok {
		cp, failed, lastRun, source = c, float64(c.Failed), 0, "checkpoint"
		if !c.At.IsZero() {
			lastRun = float64(c.At.UnixNano()) / float64(time.Second)
		}
	}
	r := Result{Target: TargetReconciler, Kind: KindReconciler, Status: status.OK, CheckedAt: a.start, Latency: a.took,
		Details: map[string]any{"failed_deliveries": failed, "source": source}}
	r.Status, r.Message = p.grade(failed, lastRun, a.start)
	if lastRun > 0 {
		r.Details["last_run"] = unixTime(lastRun)
	}
	if cp.Pending > 0 || cp.Refused > 0 {
		r.Details["pending_deliveries"], r.Details["refused_deliveries"] = cp.Pending, cp.Refused
	}
	if cp.ErrorClass != "" {
		s, why := gradeError(cp)
		r.Status, r.Message = status.Worst(r.Status, s), joinMessage(why, r.Message)
		r.Details["error_class"], r.Details["error_at"] = cp.ErrorClass, cp.ErrorAt
		if !cp.PausedUntil.IsZero() {
			r.Details["paused_until"] = cp.PausedUntil
		}
	}
	return []Result{r}, nil
}

// gradeError grades the error the reconciler's last pass wrote into its
// checkpoint: a JWT GitHub refuses (a clock that is off, a wrong key)
// stops every pass, so it is critical; a rate limit or GitHub away is a
// warning; an error about one delivery is said, and graded by the count
// of failed deliveries.
func gradeError(cp wire.ReconcilerCheckpoint) (status.Status, string) {
	s := status.OK
	switch cp.ErrorClass {
	case wire.ReconcilerErrorJWTClock, wire.ReconcilerErrorUnauthorized:
		s = status.Critical
	case wire.ReconcilerErrorRateLimited, wire.ReconcilerErrorGitHubUnavailable:
		s = status.Warning
	}
	return s, fmt.Sprintf("last error (%s): %s", cp.ErrorClass, cp.Error)
}

// checkpoint reads the reconciler's checkpoint (wire.ReconcilerKey in
// bucket checkpoints): every ingester replica reads the same one, while
// only the replica holding the reconciler's lease has the gauges' values.
// ok is false when there is no JetStream, no checkpoint yet, or one this
// probe cannot read (the gauges then stand).
func (p *Reconciler) checkpoint(ctx context.Context) (cp wire.ReconcilerCheckpoint, ok bool) {
	if p.JS == nil {
		return cp, false
	}
	kv, err := p.JS.KeyValue(ctx, events.BucketCheckpoints)
	if err != nil {
		return cp, false
	}
	e, err := kv.Get(ctx, wire.ReconcilerKey)
	if err != nil || json.Unmarshal(e.Value(), &cp) != nil || (cp.At.IsZero() && cp.ErrorClass == "") {
		return cp, false
	}
	return cp, true
}

func (p *Reconciler) grade(failed, lastRun float64, now time.Time) (status.Status, string) {
	t := p.Thresholds
	s, why := status.OK, []string{}
	switch {
	case t.FailedCritical > 0 && failed >= t.FailedCritical:
		s = status.Critical
		why = append(why, fmt.Sprintf("%.0f failed GitHub deliveries in the last window (critical from %.0f)", failed, t.FailedCritical))
	case t.FailedWarning > 0 && failed >= t.FailedWarning:
		s = status.Warning
		why = append(why, fmt.Sprintf("%.0f failed GitHub deliveries in the last window (warning from %.0f)", failed, t.FailedWarning))
	}
	switch age := now.Sub(unixTime(lastRun)); {
	case lastRun <= 0:
		why = append(why, "no pass finished yet")
	case t.StaleAfter > 0 && age >= t.StaleAfter:
		s = status.Worst(s, status.Warning)
		why = append(why, fmt.Sprintf("last pass %s ago (stale after %s)", age.Round(time.Second), t.StaleAfter))
	}
	if len(why) == 0 {
		why = append(why, "no failed deliveries in the last window")
	}
	return s, joinMessage(why...)
}

// gaugeSum adds up a gauge (or untyped) family's series; ok is false when
// the family is absent.
func gaugeSum(f *dto.MetricFamily) (sum float64, ok bool) {
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		switch {
		case m.GetGauge() != nil:
			sum += m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, true
}

func unixTime(sec float64) time.Time {
	return time.Unix(0, int64(sec*float64(time.Second))).UTC()
}
