package page

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// BenchmarkRender renders a page of 60 targets and 40 routes, a large hub.
func BenchmarkRender(b *testing.B) {
	v := View{Overall: status.Warning, GeneratedAt: now}
	for i := 0; i < 60; i++ {
		v.Targets = append(v.Targets, Target{Name: fmt.Sprintf("http-svc-%d", i), Kind: "http", Status: status.All[i%4],
			LatencyMS: float64(i), Message: "HTTP 500 (want 200); status \"fail\"", Since: now.Add(-time.Hour), CheckedAt: now})
	}
	for i := 0; i < 40; i++ {
		v.Routes = append(v.Routes, Route{Route: fmt.Sprintf("route-%d", i), Stream: "ODOO", Status: status.OK, Pending: uint64(i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Render(io.Discard, v); err != nil {
			b.Fatal(err)
		}
	}
}
