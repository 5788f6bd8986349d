package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

func checkOdoo(t *testing.T, p *Odoo) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rs, err := p.Check(ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("check: %v %v", rs, err)
	}
	return rs[0]
}

func TestOdooVersionAndLogin(t *testing.T) {
	for _, transport := range []string{odoo.TransportXMLRPC, odoo.TransportJSON2} {
		t.Run(transport, func(t *testing.T) {
			s := odootest.New(t)
			r := checkOdoo(t, &Odoo{Target: "odoo-main", Config: s.Config(transport), Latency: thresholds})
			if r.Status != status.OK || r.Kind != KindOdoo || r.Details["server_version"] != "19.0" || r.Details["uid"] == nil ||
				!strings.Contains(r.Message, "Odoo 19.0 answered version") {
				t.Fatalf("healthy Odoo: %s %q %v", r.Status, r.Message, r.Details)
			}
			if transport == odoo.TransportXMLRPC && s.Calls("version") == 0 {
				t.Error("version was not called")
			}
		})
	}
}

func TestOdooLogsInAtEveryCheck(t *testing.T) {
	s := odootest.New(t)
	p := &Odoo{Target: "odoo-main", Config: s.Config(odoo.TransportXMLRPC)}
	checkOdoo(t, p)
	checkOdoo(t, p)
	if n := s.Calls("authenticate"); n != 2 {
		t.Fatalf("authenticate called %d times for two checks", n)
	}
}

func TestOdooFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *odootest.Server, c *odoo.Config)
		want  status.Status
		msg   string
	}{
		{"wrong password", func(_ *odootest.Server, c *odoo.Config) { c.Password = config.NewSecret("hunter2-wrong") },
			status.Critical, "credentials were rejected"},
		{"server down", func(s *odootest.Server, _ *odoo.Config) {
			if err := s.SetDown(true); err != nil {
				t.Fatal(err)
			}
		}, status.Down, "version:"},
		{"proxy 502", func(s *odootest.Server, _ *odoo.Config) { s.FailNext(1, odootest.HTTPStatus(502, 0).For("version")) },
			status.Down, "HTTP 502"},
		{"database down", func(s *odootest.Server, _ *odoo.Config) { s.SetDatabaseDown(true) },
			status.Critical, "authenticate failed"},
		{"fault on version", func(s *odootest.Server, _ *odoo.Config) {
			s.FailNext(1, odootest.Fault(1, "Traceback\nValueError: boom").For("version"))
		}, status.Critical, "boom"},
		{"invalid config", func(_ *odootest.Server, c *odoo.Config) { c.URL = "" }, status.Critical, "url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := odootest.New(t)
			c := s.Config(odoo.TransportXMLRPC)
			tc.setup(s, &c)
			r := checkOdoo(t, &Odoo{Target: "odoo-main", Config: c})
			if r.Status != tc.want || !strings.Contains(r.Message, tc.msg) {
				t.Fatalf("got %s %q, want %s with %q", r.Status, r.Message, tc.want, tc.msg)
			}
			if strings.Contains(r.Message, "hunter2") {
				t.Fatal("the password reached the message")
			}
		})
	}
}

func TestOdooHungIsDown(t *testing.T) {
	s := odootest.New(t)
	s.FailNext(1, odootest.Hang().For("version"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rs, _ := (&Odoo{Target: "odoo-main", Config: s.Config(odoo.TransportXMLRPC)}).Check(ctx)
	if rs[0].Status != status.Down {
		t.Fatalf("hung Odoo: %s %q", rs[0].Status, rs[0].Message)
	}
}

func TestOdooSlowIsGraded(t *testing.T) {
	s := odootest.New(t)
	clock := newStepClock(6 * time.Second) // read when the check starts and when it ends
	r := checkOdoo(t, &Odoo{Target: "odoo-main", Config: s.Config(odoo.TransportXMLRPC), Latency: thresholds, Clock: clock.Now})
	if r.Status != status.Critical || r.Latency != 6*time.Second || !strings.HasPrefix(r.Message, "slow") {
		t.Fatalf("slow Odoo: %s %s %q", r.Status, r.Latency, r.Message)
	}
}
