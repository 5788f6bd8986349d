package monitor

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkRunOnce measures one probe round of 20 HTTP targets, the NATS
// probe and the route listing, with every result stored in the KV bucket
// of a real JetStream server (file store).
func BenchmarkRunOnce(b *testing.B) {
	e := newEnv(b, false)
	svc := newFakeService(b).srv
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{}
	for i := 0; i < 20; i++ {
		c.HTTPTargets[fmt.Sprintf("svc-%d", i)] = HTTPTarget{URL: svc.URL}
	}
	m, err := New(e.deps, c)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	m.RunOnce(ctx)
	b.ReportAllocs()
	for b.Loop() {
		m.RunOnce(ctx)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/22, "µs/target")
}
