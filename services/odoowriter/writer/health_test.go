package writer

import (
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
)

func TestHealthAndMetrics(t *testing.T) {
	h := setup(t, opRoutes)
	h.start(t)
	natstest.WaitFor(t, 10*time.Second, "/health answers", func() bool { return strings.HasPrefix(h.get(t, "/health"), "200 ") })
	if body := h.get(t, "/health/odoo"); !strings.HasPrefix(body, "200 ") || !strings.Contains(body, `"state": "unknown"`) {
		t.Errorf("/health/odoo before any call: %s", body)
	}
	h.publish(t, "github.issues.opened", "d-1", issue(t, 1, "one", nil))
	h.settled(t, events.StreamGitHub, "gh-issues")
	if body := h.get(t, "/health/odoo"); !strings.HasPrefix(body, "200 ") || !strings.Contains(body, `"state": "up"`) || !strings.Contains(body, `"last_ok"`) {
		t.Errorf("/health/odoo after a call: %s", body)
	}
	metrics := h.get(t, "/metrics")
	for _, want := range []string{
		`pulsehub_odoowriter_batch_size_count{op="upsert",route="gh-issues"} 1`,
		`pulsehub_odoowriter_odoo_call_duration_seconds_count{instance="default",method="create",model="project.task",outcome="ok"} 1`,
		`pulsehub_odoowriter_odoo_up{instance="default"} 1`,
		`pulsehub_route_processed_total{route="gh-issues"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := h.fake.SetDown(true); err != nil {
		t.Fatal(err)
	}
	h.publish(t, "github.issues.opened", "d-2", issue(t, 2, "two", nil))
	natstest.WaitFor(t, 10*time.Second, "/health/odoo fails", func() bool { return strings.HasPrefix(h.get(t, "/health/odoo"), "503 ") })
	if body := h.get(t, "/health"); !strings.HasPrefix(body, "200 ") {
		t.Errorf("/health follows Odoo: %s", body)
	}
	if body := h.get(t, "/health/odoo"); !strings.Contains(body, "connection refused") {
		t.Errorf("/health/odoo does not say why: %s", body)
	}
	if err := h.fake.SetDown(false); err != nil {
		t.Fatal(err)
	}
	h.settled(t, events.StreamGitHub, "gh-issues")
}
