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

// The ingester alone gets a soft memory limit from its body budget (the
// README's 1.25 × + 32 MiB), which then makes 400 its pace; nothing else does.
func TestDefaultMemoryLimit(t *testing.T) {
	var c hubconfig.Config
	ingester := selectUnits(c, []string{hubconfig.Ingester})
	if got := defaultMemoryLimit(ingester, "nats://n:4222", 256<<20); got != 352<<20 {
		t.Errorf("ingester alone, default budget: %d MiB", got>>20)
	}
	for name, got := range map[string]int64{
		"unlimited budget": defaultMemoryLimit(ingester, "nats://n:4222", 0),
		"embedded NATS":    defaultMemoryLimit(ingester, "", 256<<20),
		"every service":    defaultMemoryLimit(selectUnits(c, nil), "nats://n:4222", 256<<20),
	} {
		if got != 0 {
			t.Errorf("%s: %d", name, got)
		}
	}
	if defaultGCPercent(ingester, "nats://n:4222", defaultMemoryLimit(ingester, "nats://n:4222", 256<<20)) != ingesterGCPercent {
		t.Error("the default limit does not bring the ingester's pace")
	}
}
