package service

import (
	"runtime/debug"

	"github.com/insightpulse/pulsehub/events/config"
)

// ProcessConfig is the `process:` section: settings of the Go runtime of
// the whole process (every service it runs, and the embedded NATS server).
type ProcessConfig struct {
	MemoryLimitBytes int64 `yaml:"memory_limit_bytes"` // soft memory limit of the Go runtime in bytes (as GOMEMLIMIT; the GOMEMLIMIT variable wins when set): the garbage collector works harder as the heap nears it; e.g. 90% of a container's memory; 0 = the default: for a process that runs only the ingester against an external NATS, 1.25 × ingester.max_in_flight_bytes + 32 MiB (what its README recommends; none when the budget is unlimited), else none (Go's default); default 0
	GCPercent        int   `yaml:"gc_percent"`         // the garbage collector's pace (as GOGC; the GOGC variable wins when set): a collection starts when the heap has grown this many percent since the last; higher spends less CPU and more memory (400 cut the ingester's CPU per delivery by ~16-20% at c=64, docs/performance.md), memory_limit_bytes still caps it; 0 = the default: 400 for a process that runs only the ingester against an external NATS with a memory limit in effect (GOMEMLIMIT, memory_limit_bytes or its default, which bounds the heap), else Go's 100; default 0
}

// Validate reports a negative limit.
func (c ProcessConfig) Validate(path string) config.Problems {
	var ps config.Problems
	if c.MemoryLimitBytes < 0 {
		ps.Add(path+".memory_limit_bytes", "must not be negative (0 = none)")
	}
	if c.GCPercent < 0 {
		ps.Add(path+".gc_percent", "must not be negative (0 = Go's default)")
	}
	return ps
}

// ApplyMemoryLimit sets the Go runtime's memory limit to
// memory_limit_bytes, unless the GOMEMLIMIT environment variable (read
// with getenv) is set, which the runtime has applied already; with
// neither, to fallback when it is over 0 (the process's own default). It
// returns the limit in effect (0 = none) and where it came from:
// "GOMEMLIMIT", "process.memory_limit_bytes", "default" or "none".
func (c ProcessConfig) ApplyMemoryLimit(getenv func(string) string, fallback int64) (limit int64, from string) {
	switch {
	case getenv("GOMEMLIMIT") != "":
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	case c.MemoryLimitBytes > 0:
		debug.SetMemoryLimit(c.MemoryLimitBytes)
		return c.MemoryLimitBytes, "process.memory_limit_bytes"
	case fallback > 0:
		debug.SetMemoryLimit(fallback)
		return fallback, "default"
	}
	return 0, "none"
}

// ApplyGCPercent sets the garbage collector's pace to gc_percent, unless
// the GOGC environment variable (read with getenv) is set, which the
// runtime has applied already; with neither, to fallback when it is over
// 0 (the process's own default), else Go's 100. It returns the percent in
// effect and where it came from: "GOGC", "process.gc_percent" or "default".
func (c ProcessConfig) ApplyGCPercent(getenv func(string) string, fallback int) (percent int, from string) {
	switch {
	case getenv("GOGC") != "":
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p, "GOGC"
	case c.GCPercent > 0:
		debug.SetGCPercent(c.GCPercent)
		return c.GCPercent, "process.gc_percent"
	case fallback > 0:
		debug.SetGCPercent(fallback)
		return fallback, "default"
	}
	return 100, "default"
}
