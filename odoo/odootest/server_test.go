package odootest

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/odoo"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestWebHealth(t *testing.T) {
	s := New(t)
	cases := []struct {
		dbDown bool
		query  string
		status int
		body   string
	}{
		{false, "", 200, `{"status": "pass"}`},
		{false, "?db_server_status=1", 200, `{"status": "pass", "db_server_status": true}`},
		{true, "", 200, `{"status": "pass"}`},
		{true, "?db_server_status=1", 500, `{"status": "fail", "db_server_status": false}`},
	}
	for _, tc := range cases {
		s.SetDatabaseDown(tc.dbDown)
		status, body, h := get(t, s.URL+"/web/health"+tc.query)
		if status != tc.status || body != tc.body || h.Get("Content-Type") != "application/json" {
			t.Errorf("db down %v %s: %d %s", tc.dbDown, tc.query, status, body)
		}
	}
}

func TestWebVersionNeedsNoCredentials(t *testing.T) {
	s := New(t)
	status, body, _ := get(t, s.URL+"/web/version")
	if status != 200 || body != `{"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"}` {
		t.Errorf("%d %s", status, body)
	}
}

func TestUsersKeysAndAccessRights(t *testing.T) {
	s := New(t)
	uid, err := s.AddUser(User{Login: "bot", Password: "pw", APIKeys: []string{"k1"}, DeniedModels: []string{"hr.expense"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		transport, secret string
		ok                bool
	}{
		{odoo.TransportXMLRPC, "pw", true},
		{odoo.TransportXMLRPC, "k1", true}, // an API key works as the password
		{odoo.TransportXMLRPC, "nope", false},
		{odoo.TransportJSON2, "k1", true},
		{odoo.TransportJSON2, "pw", false}, // JSON-2 takes API keys only
	} {
		cfg := s.Config(tc.transport)
		cfg.Login = "bot"
		cfg.Password = configSecret(tc.secret)
		c, err := odoo.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Authenticate(ctx)
		if tc.ok && (err != nil || got != uid) || !tc.ok && !odoo.IsAccessDenied(err) {
			t.Errorf("%s with %q: uid %d, err %v", tc.transport, tc.secret, got, err)
		}
		if tc.ok {
			_, err := c.SearchCount(ctx, "hr.expense", nil)
			if !odoo.IsAccessError(err) {
				t.Errorf("%s: denied model answered %v", tc.transport, err)
			}
		}
	}
	s.AddKey("bot", "k2")
	s.RevokeKey("k1")
	cfg := s.Config(odoo.TransportJSON2)
	cfg.Password = configSecret("k2")
	c, _ := odoo.New(cfg)
	if got, err := c.Authenticate(ctx); err != nil || got != uid {
		t.Errorf("rotated key: %d %v", got, err)
	}
}

func TestCloseEndsHungCalls(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	c, err := odoo.New(s.Config(odoo.TransportXMLRPC))
	if err != nil {
		t.Fatal(err)
	}
	s.FailNext(1, Hang().For("search"))
	done := make(chan error, 1)
	go func() {
		_, err := c.Search(context.Background(), "res.partner", nil, odoo.SearchOptions{})
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitCalls(ctx, "search", 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a hung call succeeded")
		}
	case <-ctx.Done():
		t.Fatal("Close left the call hanging")
	}
}

func TestResetRestoresTheStart(t *testing.T) {
	s := New(t, WithModels(Model{Name: "x.thing", Fields: map[string]Field{"name": {Type: Char}}}))
	insert(t, s, "x.thing", map[string]any{"name": "a"})
	s.AddModel(Model{Name: "y.other"})
	s.FailNext(3, HTTPStatus(503, 0))
	s.SetDatabaseDown(true)
	if err := s.SetDown(true); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	c := client(t, s, odoo.TransportXMLRPC)
	n, err := c.SearchCount(context.Background(), "x.thing", nil)
	if err != nil || n != 0 || s.Count("res.partner") != 3 || s.Count("y.other") != 0 {
		t.Errorf("after reset: %d things, %v, %d partners", n, err, s.Count("res.partner"))
	}
}

// TestManyClientsAtOnce hammers one fake from many goroutines over both
// transports; run with -race.
func TestManyClientsAtOnce(t *testing.T) {
	s := New(t)
	var wg sync.WaitGroup
	for i := range 8 {
		c := client(t, s, transports[i%2])
		wg.Go(func() {
			ctx := context.Background()
			for j := range 10 {
				id, err := c.CreateOne(ctx, "project.task", map[string]any{"name": "t", "x_github_issue_id": i*100 + j})
				if err == nil {
					err = c.Write(ctx, "project.task", []int64{id}, map[string]any{"priority": "1"})
				}
				if err == nil {
					_, err = c.SearchRead(ctx, "project.task", []any{[]any{"priority", "=", "1"}}, []string{"name"}, odoo.SearchOptions{Limit: 5})
				}
				if err != nil {
					t.Error(err)
					return
				}
				_ = s.Records("project.task")
			}
		})
	}
	wg.Wait()
	if n := s.Count("project.task"); n != 80 {
		t.Errorf("%d tasks, want 80", n)
	}
}
