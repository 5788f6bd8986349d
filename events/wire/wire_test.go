package wire

import (
	"encoding/json"
	"testing"
	"time"
)

// The names on the wire are what stored values, older replicas and the
// runbook rely on: renaming a Go field must not rename them.
func TestWireNamesStayTheSame(t *testing.T) {
	at := time.Date(2026, 11, 22, 5, 15, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"breakers", Breakers{"ocr": {Service: "ocr", State: BreakerOpen, OpenedAt: at, Capacity: 2, InFlight: 1, Requests: 3,
			TotalFailures: 4, ConsecutiveFailures: 5}},
			`{"ocr":{"service":"ocr","state":"open","opened_at":"2026-11-22T05:15:00Z","capacity":2,"in_flight":1,"requests":3,"total_failures":4,"consecutive_failures":5}}`},
		{"closed breaker", Breaker{Service: "llm", State: BreakerClosed},
			`{"service":"llm","state":"closed","capacity":0,"in_flight":0,"requests":0,"total_failures":0,"consecutive_failures":0}`},
		{"health", Health{Status: HealthFail, Checks: map[string]HealthCheck{"nats": {Status: HealthFail, Error: "not connected"}},
			Details: map[string]any{"breakers": []Breaker{}}},
			`{"status":"fail","checks":{"nats":{"status":"fail","error":"not connected"}},"details":{"breakers":[]}}`},
		{"health without details", Health{Status: HealthOK, Checks: map[string]HealthCheck{"nats": {Status: HealthOK}}},
			`{"status":"ok","checks":{"nats":{"status":"ok"}}}`},
		{"health with a version", Health{Status: HealthOK, Version: "1.2.3", Checks: map[string]HealthCheck{}},
			`{"status":"ok","version":"1.2.3","checks":{}}`},
		{"reconciler checkpoint", ReconcilerCheckpoint{Since: at, Failed: 3, Redelivered: 2, At: at.Add(time.Minute)},
			`{"since":"2026-11-22T05:15:00Z","failed":3,"redelivered":2,"at":"2026-11-22T05:16:00Z"}`},
		{"reconciler checkpoint with a backlog and an error", ReconcilerCheckpoint{Since: at, Failed: 3, Redelivered: 2, At: at.Add(time.Minute),
			BacklogCursor: "v1_7", BacklogFrom: at.Add(time.Minute), Pending: 2, Refused: 1, Errors: 1,
			ErrorClass: ReconcilerErrorJWTClock, Error: "clock", ErrorAt: at, PausedUntil: at.Add(time.Hour)},
			`{"since":"2026-11-22T05:15:00Z","failed":3,"redelivered":2,"at":"2026-11-22T05:16:00Z","backlog_cursor":"v1_7",` +
				`"backlog_from":"2026-11-22T05:16:00Z","pending":2,"refused":1,"errors":1,"error_class":"jwt_clock","error":"clock",` +
				`"error_at":"2026-11-22T05:15:00Z","paused_until":"2026-11-22T06:15:00Z"}`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("%s: %s %v\nwant %s", c.name, b, err, c.want)
		}
	}
	if BreakerHalfOpen != "half-open" || ReconcilerKey != "github-reconciler" || BreakersPath != "/breakers" ||
		ReconcilerErrorJWTClock != "jwt_clock" || ReconcilerErrorRateLimited != "rate_limited" {
		t.Error("a name on the wire changed")
	}
}
