package apply

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
)

// /health/odoo serves each instance's last error: it holds no configured
// secret, whatever Odoo or a proxy echoed.
func TestLastOdooErrorIsServedWithoutSecrets(t *testing.T) {
	const key = "writer-api-key-61c9d2"
	config.NewSecret(key)
	m := NewMonitor(nil, []string{"main", "other"})
	m.record("main", "res.partner", "create", time.Millisecond, events.Transient(errors.New("proxy said: bad key "+key)))
	m.record("other", "res.partner", "create", time.Millisecond, events.Permanent(errors.New("fault: key "+key+" refused")))
	for _, s := range m.Status() {
		if strings.Contains(s.LastError, key) || !strings.Contains(s.LastError, config.Redacted) {
			t.Errorf("%s: last_error %q", s.Instance, s.LastError)
		}
	}
}
