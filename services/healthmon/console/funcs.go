package console

import (
	"fmt"
	"html/template"
	"time"

	"github.com/insightpulse/pulsehub/services/dispatcher/graph"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
)

var funcs = template.FuncMap{
	"stateClass": stateClass,
	"short":      func(s string, n int) string { return clip(s, n) },
	"size":       size,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"add": func(a, b int) int { return a + b },
}

// stateClass maps a job's state (jobstate.State) or a graph's (a string,
// graph.State*) to the status page's badge colours.
func stateClass(v any) string {
	switch s := jobstate.State(fmt.Sprint(v)); s {
	case jobstate.Done:
		return "s-ok"
	case jobstate.Failed, jobstate.Scheduled:
		return "s-warning"
	case jobstate.Dead, graph.StateBlocked:
		return "s-critical"
	}
	return "s-unknown"
}

func size(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
