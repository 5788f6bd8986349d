package odoo_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
)

var transports = []string{odoo.TransportXMLRPC, odoo.TransportJSON2}

// forEachTransport runs f once per transport against a fresh fake.
func forEachTransport(t *testing.T, f func(t *testing.T, s *odootest.Server, c *odoo.Client)) {
	t.Helper()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			s := odootest.New(t)
			f(t, s, newClient(t, s.Config(tr)))
		})
	}
}

func newClient(t *testing.T, cfg odoo.Config, opts ...odoo.Option) *odoo.Client {
	t.Helper()
	c, err := odoo.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// mustFault asserts err is a *odoo.Fault whose Transient answer, and the
// hub's events.Classify, are transient.
func mustFault(t *testing.T, err error, transient bool) *odoo.Fault {
	t.Helper()
	var f *odoo.Fault
	if !errors.As(err, &f) {
		t.Fatalf("err = %v (%T), want *odoo.Fault", err, err)
	}
	if f.Transient() != transient {
		t.Fatalf("Transient() = %v, want %v: %v", f.Transient(), transient, err)
	}
	if want := map[bool]events.Kind{true: events.KindTransient, false: events.KindPermanent}[transient]; events.Classify(err) != want {
		t.Fatalf("events.Classify = %v, want %v", events.Classify(err), want)
	}
	return f
}

func TestVersionAndAuthenticate(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		ctx := context.Background()
		v, err := c.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v.ServerVersion != "19.0" || v.ServerSerie != "19.0" || v.Major() != 19 || len(v.ServerVersionInfo) != 6 {
			t.Errorf("version = %+v", v)
		}
		for range 3 {
			uid, err := c.Authenticate(ctx)
			if err != nil || uid != odootest.AdminUID {
				t.Fatalf("uid, err = %d, %v", uid, err)
			}
		}
		if n := s.Calls("authenticate") + s.Calls("context_get"); n != 1 {
			t.Errorf("authenticated %d times, want once", n)
		}
	})
}

func TestCRUDRoundTrip(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		ctx := context.Background()
		ids, err := c.Create(ctx, "res.partner", []map[string]any{
			{"name": "Acme", "is_company": true, "email": "info@acme.test"},
			{"name": "Wile E.", "phone": nil},
		})
		if err != nil || len(ids) != 2 {
			t.Fatalf("create: %v, %v", ids, err)
		}
		if s.Calls("create") != 1 {
			t.Errorf("create took %d calls, want one with a list", s.Calls("create"))
		}
		kid, err := c.CreateOne(ctx, "res.partner", map[string]any{"name": "Road Runner", "parent_id": ids[0]})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(ctx, "res.partner", []int64{ids[1]}, map[string]any{"parent_id": ids[0], "ref": "W1"}); err != nil {
			t.Fatal(err)
		}
		found, err := c.Search(ctx, "res.partner", []any{[]any{"parent_id", "=", ids[0]}}, odoo.SearchOptions{Order: "id desc"})
		if err != nil || !slices.Equal(found, []int64{kid, ids[1]}) {
			t.Fatalf("search = %v, %v", found, err)
		}
		n, err := c.SearchCount(ctx, "res.partner", []any{[]any{"parent_id", "!=", false}})
		if err != nil || n != 2 {
			t.Fatalf("search_count = %d, %v", n, err)
		}
		recs, err := c.SearchRead(ctx, "res.partner", []any{[]any{"id", "in", []int64{ids[0], ids[1]}}},
			[]string{"name", "parent_id", "email", "phone", "ref", "child_ids"}, odoo.SearchOptions{Order: "id"})
		if err != nil || len(recs) != 2 {
			t.Fatalf("search_read = %v, %v", recs, err)
		}
		acme, wile := recs[0], recs[1]
		if _, _, ok := acme.Many2One("parent_id"); ok || acme.String("phone") != "" || acme["phone"] != false {
			t.Errorf("empty values: %v", acme)
		}
		if id, name, ok := wile.Many2One("parent_id"); !ok || id != ids[0] || name != "Acme" || wile.String("ref") != "W1" {
			t.Errorf("wile = %v", wile)
		}
		if !slices.Equal(acme.IDs("child_ids"), []int64{ids[1], kid}) {
			t.Errorf("child_ids = %v", acme["child_ids"])
		}
		if err := c.Unlink(ctx, "res.partner", []int64{kid}); err != nil {
			t.Fatal(err)
		}
		_, err = c.Read(ctx, "res.partner", []int64{kid}, []string{"name"})
		if f := mustFault(t, err, false); !odoo.IsMissingRecord(err) || f.Model != "res.partner" || f.Method != "read" {
			t.Errorf("read of a deleted record: %v", err)
		}
	})
}

func TestExecuteKWPassesOtherMethods(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		ctx := context.Background()
		if _, err := c.CreateOne(ctx, "res.partner", map[string]any{"name": "Deco Addict"}); err != nil {
			t.Fatal(err)
		}
		v, err := c.ExecuteKW(ctx, "res.partner", "name_search", []any{"deco"}, map[string]any{"limit": 5})
		if err != nil {
			t.Fatal(err)
		}
		list, ok := v.([]any)
		if !ok || len(list) != 1 {
			t.Fatalf("name_search = %#v", v)
		}
		pair := odoo.Record{"p": list[0]}
		if _, name, ok := pair.Many2One("p"); !ok || name != "Deco Addict" {
			t.Errorf("name_search = %#v", v)
		}
	})
}

func TestLoadUpsertsThroughTheClient(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		ctx := context.Background()
		fields := []string{"id", "name", "x_github_issue_id"}
		first, _, err := c.Load(ctx, "project.task", fields, [][]any{{"gh_issue_9", "Bug", int64(9)}})
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := c.Load(ctx, "project.task", fields, [][]any{{"gh_issue_9", "Bug (renamed)", int64(9)}})
		if err != nil || !slices.Equal(first, again) || s.Count("project.task") != 1 {
			t.Fatalf("load twice: %v then %v, %v; %d tasks", first, again, err, s.Count("project.task"))
		}
		_, msgs, err := c.Load(ctx, "project.task", []string{"id", "name", "priority"}, [][]any{{"gh_issue_10", "X", "9"}})
		mustFault(t, err, false)
		if len(msgs) != 1 || msgs[0].Type != "error" {
			t.Errorf("messages = %+v", msgs)
		}
	})
}

func TestHealth(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		ctx := context.Background()
		if err := c.Health(ctx); err != nil {
			t.Fatal(err)
		}
		s.SetDatabaseDown(true)
		f := mustFault(t, c.Health(ctx), true)
		if f.HTTPStatus != 500 {
			t.Errorf("health with the database down: %v", f)
		}
		_, err := c.SearchCount(ctx, "res.partner", nil)
		if f := mustFault(t, err, true); f.Name != "psycopg2.OperationalError" {
			t.Errorf("call with the database down: %v", err)
		}
	})
}
