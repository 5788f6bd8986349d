package status

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkTrackerObserve measures one result through hysteresis, over 100
// targets that flap between ok and warning.
func BenchmarkTrackerObserve(b *testing.B) {
	tr := NewTracker(2)
	names := make([]string, 100)
	for i := range names {
		names[i] = "target-" + strconv.Itoa(i)
	}
	at := time.Now()
	seen := []Status{OK, Warning, Warning, OK}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Observe(names[i%len(names)], seen[(i/len(names))%len(seen)], at)
	}
}
