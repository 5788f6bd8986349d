package monitor

import (
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/stream"
)

func TestHistoryKeepsTheLastHourOfEachRoute(t *testing.T) {
	m := &Monitor{}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		m.remember(&stream.RouteInfo{Route: "r", Acked: uint64(i * 10)}, t0.Add(time.Duration(i)*time.Minute))
	}
	m.remember(&stream.RouteInfo{Route: "other", Acked: 1}, t0)
	h := m.History("r")
	if len(h) != 61 || h[0].At != t0.Add(39*time.Minute) || h[60].Acked != 990 {
		t.Fatalf("%d samples, first %v, last %+v", len(h), h[0].At, h[len(h)-1])
	}
	h[0].Acked = 0 // a copy
	if m.History("r")[0].Acked != 390 || len(m.History("other")) != 1 || m.History("none") != nil {
		t.Fatal("History returns a copy per route")
	}
	for i := range 2 * maxSamples {
		m.remember(&stream.RouteInfo{Route: "fast", Acked: uint64(i)}, t0.Add(time.Duration(i)*time.Second))
	}
	if n := len(m.History("fast")); n != maxSamples {
		t.Fatalf("a fast probe keeps %d samples, at most %d", n, maxSamples)
	}
}
