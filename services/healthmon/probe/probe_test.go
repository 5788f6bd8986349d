package probe

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// stepClock advances by step at every reading, so a probe that reads it
// twice took exactly step.
type stepClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func newStepClock(step time.Duration) *stepClock {
	return &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), step: step}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.t
	c.t = c.t.Add(c.step)
	return now
}

func TestTargetName(t *testing.T) {
	tests := []struct{ prefix, name, want string }{
		{"route", "github-issues-to-tasks", "route-github-issues-to-tasks"},
		{"odoo", "main", "odoo-main"},
		{"", "nats", "nats"},
		{"route", "Github_Issues", "route-github-issues-"},
		{"breaker", "___", "breaker-"},
	}
	for _, tc := range tests {
		got := TargetName(tc.prefix, tc.name)
		if !IsTargetName(got) {
			t.Errorf("TargetName(%q, %q) = %q is not a target name", tc.prefix, tc.name, got)
		}
		if len(got) < len(tc.want) || got[:len(tc.want)] != tc.want {
			t.Errorf("TargetName(%q, %q) = %q, want prefix %q", tc.prefix, tc.name, got, tc.want)
		}
	}
	if TargetName("route", "A_b") == TargetName("route", "a-b") {
		t.Error("two names share a target")
	}
	if TargetName("route", "A_b") != TargetName("route", "A_b") {
		t.Error("target names are not stable")
	}
	// Names of any length make targets within the limit, never the same.
	long, longer := strings.Repeat("r", 300), strings.Repeat("r", 301)
	for _, n := range []string{long, longer, strings.Repeat("R_", 200), strings.Repeat("a", 128), strings.Repeat("a", 200)} {
		if got := TargetName("route", n); !IsTargetName(got) || !strings.HasPrefix(got, "route-") {
			t.Errorf("TargetName of %d bytes = %q (%d bytes)", len(n), got, len(got))
		}
	}
	if TargetName("route", long) == TargetName("route", longer) {
		t.Error("two long names share a target")
	}
	for _, bad := range []string{"", "Upper", "dot.ted", "under_score", strings.Repeat("a", 129)} {
		if IsTargetName(bad) {
			t.Errorf("IsTargetName(%q)", bad)
		}
	}
}

func TestParseAdvisory(t *testing.T) {
	tests := []struct {
		subject, body, stream, consumer string
	}{
		{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ODOO.orders", `{"stream":"ODOO","consumer":"orders","deliveries":5}`, "ODOO", "orders"},
		{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.GITHUB.issues", `not json`, "GITHUB", "issues"},
		{"elsewhere", `{}`, "", ""},
	}
	for _, tc := range tests {
		s, c := parseAdvisory(tc.subject, []byte(tc.body))
		if s != tc.stream || c != tc.consumer {
			t.Errorf("parseAdvisory(%q) = %q %q", tc.subject, s, c)
		}
	}
}
