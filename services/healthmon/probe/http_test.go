package probe

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

var thresholds = status.Latency{Warning: 2 * time.Second, Critical: 5 * time.Second}

func answering(code int, body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
}

func TestHTTPJudgesTheAnswer(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		body   string
		expect int
		want   status.Status
		msg    string
	}{
		{"odoo pass", 200, `{"status": "pass"}`, 0, status.OK, ""},
		{"odoo database down", 500, `{"status": "fail", "db_server_status": false}`, 0, status.Critical, `HTTP 500 (want 200); status "fail"; database server unreachable`},
		{"database down with 200", 200, `{"status": "pass", "db_server_status": false}`, 0, status.Critical, "database server unreachable"},
		{"warn", 200, `{"status": "warn"}`, 0, status.Warning, `status "warn"`},
		{"fail with 200", 200, `{"status": "fail"}`, 0, status.Critical, `status "fail"`},
		{"hub service failing check", 503, `{"status": "fail", "checks": {"nats": {"status": "fail", "error": "not connected"}, "x": {"status": "ok"}}}`, 0,
			status.Critical, `HTTP 503 (want 200); status "fail"; failing checks: nats: not connected`},
		{"plain text", 200, `OK`, 0, status.OK, ""},
		{"other expected status", 204, ``, 204, status.OK, ""},
		{"unexpected status", 200, ``, 204, status.Critical, "HTTP 200 (want 204)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := answering(tc.code, tc.body)
			defer srv.Close()
			p := &HTTP{Target: "http-x", URL: srv.URL + "/health", ExpectStatus: tc.expect, Latency: thresholds}
			rs, err := p.Check(context.Background())
			if err != nil || len(rs) != 1 {
				t.Fatalf("check: %v %v", rs, err)
			}
			r := rs[0]
			if r.Status != tc.want || r.Message != tc.msg || r.Kind != KindHTTP || r.Target != "http-x" {
				t.Fatalf("got %s %q (%s), want %s %q", r.Status, r.Message, r.Kind, tc.want, tc.msg)
			}
			if r.Details["http_status"] != tc.code {
				t.Errorf("details = %v", r.Details)
			}
		})
	}
}

func TestHTTPLatencyThresholds(t *testing.T) {
	srv := answering(200, `{"status": "pass"}`)
	defer srv.Close()
	tests := []struct {
		took time.Duration
		want status.Status
	}{
		{10 * time.Millisecond, status.OK},
		{1999 * time.Millisecond, status.OK},
		{2000 * time.Millisecond, status.Warning},
		{4999 * time.Millisecond, status.Warning},
		{5000 * time.Millisecond, status.Critical},
	}
	for _, tc := range tests {
		clock := newStepClock(tc.took)
		p := &HTTP{Target: "http-x", Kind: KindService, URL: srv.URL, Latency: thresholds, Clock: clock.Now}
		rs, _ := p.Check(context.Background())
		if r := rs[0]; r.Status != tc.want || r.Latency != tc.took || r.Kind != KindService {
			t.Errorf("took %s: %s %s %q, want %s", tc.took, r.Status, r.Latency, r.Message, tc.want)
		}
	}
}

func TestHTTPNoAnswerIsDown(t *testing.T) {
	port := natstest.FreePort(t)
	p := &HTTP{Target: "http-gone", URL: "http://user:secret@127.0.0.1:" + strconv.Itoa(port) + "/health"}
	rs, _ := p.Check(context.Background())
	if r := rs[0]; r.Status != status.Down || !strings.Contains(r.Message, "refused") || strings.Contains(r.Message, "secret") {
		t.Fatalf("refused: %s %q", r.Status, r.Message)
	}

	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hung.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rs, _ = (&HTTP{Target: "http-hung", URL: hung.URL}).Check(ctx)
	if r := rs[0]; r.Status != status.Down || !strings.Contains(r.Message, "no answer within the probe's timeout") {
		t.Fatalf("hung: %s %q", r.Status, r.Message)
	}

	rs, _ = (&HTTP{Target: "http-bad", URL: "::not a url"}).Check(context.Background())
	if r := rs[0]; r.Status != status.Down || strings.Contains(r.Message, "not a url") {
		t.Fatalf("bad URL: %s %q", r.Status, r.Message)
	}
}

// A hub service's GET /health, as events/service writes it: the probe
// names the failing check and its error.
func TestHTTPReadsAHubServicesHealth(t *testing.T) {
	srv := service.NewServer(service.HTTPConfig{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), nil)
	srv.AddCheck(wire.HealthCheckNATS, func(context.Context) error { return errors.New("not connected") })
	srv.AddCheck("odoo", func(context.Context) error { return nil })
	srv.AddDetail("breakers", func(context.Context) any { return []wire.Breaker{{Service: "ocr", State: wire.BreakerOpen}} })
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	p := &HTTP{Target: "service-dispatcher", Kind: KindService, URL: "http://" + srv.Addr() + "/health", Latency: thresholds}
	rs, err := p.Check(context.Background())
	if err != nil || len(rs) != 1 {
		t.Fatalf("check: %v %v", rs, err)
	}
	// Cut off from NATS only: the service runs (a failover in progress, or
	// NATS down, which the nats target grades): a warning, not critical.
	if r := rs[0]; r.Status != status.Warning || r.Message != `HTTP 503 (want 200); status "fail"; failing checks: nats: not connected` ||
		r.Details["body_status"] != wire.HealthFail {
		t.Fatalf("got %s %q %v", r.Status, r.Message, r.Details)
	}
	// Anything else failing as well is critical.
	srv.AddCheck("tasks", func(context.Context) error { return errors.New("stopping: route x: boom") })
	rs, _ = p.Check(context.Background())
	if r := rs[0]; r.Status != status.Critical || !strings.Contains(r.Message, "tasks: stopping") {
		t.Fatalf("nats and tasks failing: %s %q", r.Status, r.Message)
	}
}
