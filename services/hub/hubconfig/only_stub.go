package hubconfig

import (
	"strings"

	"github.com/insightpulse/pulsehub/events/config"
)

// TEMPORARY until the deploy branch's only.go is merged.
const (
	Ingester   = "ingester"
	OdooWriter = "odoowriter"
	Dispatcher = "dispatcher"
	Healthmon  = "healthmon"
)

// Services TEMP
var Services = []string{Ingester, OdooWriter, Dispatcher, Healthmon}

// ParseOnly TEMP
func ParseOnly(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, ","), nil
}

// ValidateFor TEMP
func (c *Config) ValidateFor(only []string) config.Problems { return c.validateAll() }
