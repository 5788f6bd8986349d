package service

import (
	"runtime/debug"

	"github.com/insightpulse/pulsehub/events/config"
)

// ProcessConfig is the `process:` section: settings of the Go runtime of
// the whole process (every service it runs, and the embedded NATS server).
type ProcessConfig struct {
	MemoryLimitBytes int64 `yaml:"memory_limit_bytes"` // soft memory limit of the Go runtime in bytes (as GOMEMLIMIT; the GOMEMLIMIT variable wins when set): the garbage collector works harder as the heap nears it; e.g. 90% of a container's memory; 0 = none (Go's default); default 0
}

// Validate reports a negative limit.
func (c ProcessConfig) Validate(path string) config.Problems {
	var ps config.Problems
	if c.MemoryLimitBytes < 0 {
		ps.Add(path+".memory_limit_bytes", "must not be negative (0 = none)")
	}
	return ps
}

// ApplyMemoryLimit sets the Go runtime's memory limit to
// memory_limit_bytes, unless the GOMEMLIMIT environment variable (read
// with getenv) is set, which the runtime has applied already. It returns
// the limit in effect (0 = none) and where it came from: "GOMEMLIMIT",
// "process.memory_limit_bytes" or "none".
func (c ProcessConfig) ApplyMemoryLimit(getenv func(string) string) (limit int64, from string) {
	switch {
	case getenv("GOMEMLIMIT") != "":
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	case c.MemoryLimitBytes > 0:
		debug.SetMemoryLimit(c.MemoryLimitBytes)
		return c.MemoryLimitBytes, "process.memory_limit_bytes"
	}
	return 0, "none"
}
