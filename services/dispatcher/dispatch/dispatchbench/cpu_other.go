//go:build !unix

package dispatchbench

import "time"

// cpuTime is not measured on this platform: reports leave it out.
func cpuTime() time.Duration { return 0 }
