package root

import (
	"math"
	"testing"

	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
)

// The ingester's pace is the default only for the ingester alone, against
// an external NATS, under a memory limit.
func TestDefaultGCPercent(t *testing.T) {
	var c hubconfig.Config
	ingester := selectUnits(c, []string{hubconfig.Ingester})
	for _, tc := range []struct {
		name     string
		selected []unit
		natsURL  string
		limit    int64
		want     int
	}{
		{"ingester alone, external NATS, a limit", ingester, "nats://n:4222", 460 << 20, ingesterGCPercent},
		{"no limit", ingester, "nats://n:4222", 0, 0},
		{"GOMEMLIMIT=off", ingester, "nats://n:4222", math.MaxInt64, 0},
		{"embedded NATS", ingester, "", 460 << 20, 0},
		{"every service", selectUnits(c, nil), "nats://n:4222", 460 << 20, 0},
		{"ingester and writer", selectUnits(c, []string{hubconfig.Ingester, hubconfig.OdooWriter}), "nats://n:4222", 460 << 20, 0},
	} {
		if got := defaultGCPercent(tc.selected, tc.natsURL, tc.limit); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
