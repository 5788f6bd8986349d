package probe

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

func metricsText(failed float64, lastRun time.Time) string {
	return fmt.Sprintf(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 12
# HELP %[1]s Failed deliveries found in the last window.
# TYPE %[1]s gauge
%[1]s %[2]g
# HELP %[3]s End of the last pass.
# TYPE %[3]s gauge
%[3]s %[4]d
`, wire.MetricReconcilerFailed, failed, wire.MetricReconcilerLastRun, lastRun.Unix())
}

func TestReconcilerGrading(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		failed  float64
		lastRun time.Time
		want    status.Status
		msg     string
	}{
		{"clean", 0, now.Add(-time.Minute), status.OK, "no failed deliveries in the last window"},
		{"some failed", 3, now.Add(-time.Minute), status.Warning, "3 failed GitHub deliveries in the last window (warning from 1)"},
		{"many failed", 250, now.Add(-time.Minute), status.Critical, "250 failed GitHub deliveries in the last window (critical from 100)"},
		{"stale", 0, now.Add(-time.Hour), status.Warning, "last pass 1h0m0s ago (stale after 30m0s)"},
		{"never ran", 0, time.Unix(0, 0), status.OK, "no pass finished yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := serving("/metrics", 200, metricsText(tc.failed, tc.lastRun))
			defer srv.Close()
			clock := func() time.Time { return now }
			rs, err := (&Reconciler{URL: srv.URL, Thresholds: DefaultReconcilerThresholds(), Clock: clock}).Check(context.Background())
			if err != nil || len(rs) != 1 {
				t.Fatalf("check: %v %v", rs, err)
			}
			r := rs[0]
			if r.Status != tc.want || r.Message != tc.msg || r.Target != TargetReconciler || r.Kind != KindReconciler {
				t.Fatalf("got %s %q, want %s %q", r.Status, r.Message, tc.want, tc.msg)
			}
		})
	}
}

func TestReconcilerAbsentOrUnreadable(t *testing.T) {
	absent := serving("/metrics", 200, "# TYPE go_goroutines gauge\ngo_goroutines 3\n")
	defer absent.Close()
	rs, err := (&Reconciler{URL: absent.URL}).Check(context.Background())
	if err != nil || len(rs) != 0 {
		t.Fatalf("ingester without a reconciler: %v %v", rs, err)
	}
	garbled := serving("/metrics", 200, "this is { not prometheus\n")
	defer garbled.Close()
	failing := serving("/metrics", 500, "")
	defer failing.Close()
	for name, u := range map[string]string{
		"garbled":     garbled.URL,
		"HTTP 500":    failing.URL,
		"unreachable": "http://127.0.0.1:" + strconv.Itoa(natstest.FreePort(t)),
	} {
		if _, err := (&Reconciler{URL: u}).Check(context.Background()); err == nil || !strings.Contains(err.Error(), "/metrics") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestReconcilerReadsUntypedSeries(t *testing.T) {
	srv := serving("/metrics", 200, wire.MetricReconcilerFailed+`{repo="a"} 1`+"\n"+wire.MetricReconcilerFailed+`{repo="b"} 2`+"\n")
	defer srv.Close()
	rs, err := (&Reconciler{URL: srv.URL, Thresholds: DefaultReconcilerThresholds()}).Check(context.Background())
	if err != nil || len(rs) != 1 || rs[0].Details["failed_deliveries"] != 3.0 || rs[0].Status != status.Warning {
		t.Fatalf("untyped series: %+v %v", rs, err)
	}
}
