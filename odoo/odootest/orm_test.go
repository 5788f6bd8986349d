package odootest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
)

func client(t *testing.T, s *Server, transport string) *odoo.Client {
	t.Helper()
	c, err := odoo.New(s.Config(transport))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// taskFixture makes two projects and four tasks written a second apart.
func taskFixture(t *testing.T) (*Server, *clock) {
	t.Helper()
	clk := &clock{}
	clk.Set("2026-01-01 00:00:00")
	s := New(t, WithClock(clk.Now))
	insert(t, s, "project.project", map[string]any{"id": 1, "name": "Website"})
	insert(t, s, "project.project", map[string]any{"id": 2, "name": "Mobile"})
	for i, vals := range []map[string]any{
		{"id": 1, "name": "Fix login bug", "priority": "1", "x_github_issue_id": 101, "project_id": 1},
		{"id": 2, "name": "Add export", "x_github_issue_id": 102, "project_id": 2},
		{"id": 3, "name": "fix typo"},
		{"id": 4, "name": "Archived", "active": false, "x_github_issue_id": 104},
	} {
		clk.Set("2026-01-01 00:00:0" + string(rune('1'+i)))
		insert(t, s, "project.task", vals)
	}
	return s, clk
}

func TestDomainsSelectLikeOdoo(t *testing.T) {
	s, _ := taskFixture(t)
	c := client(t, s, odoo.TransportXMLRPC)
	leaf := func(f, op string, v any) []any { return []any{f, op, v} }
	cases := []struct {
		name   string
		domain []any
		want   []int64
	}{
		{"empty matches all active", nil, []int64{1, 2, 3}},
		{"=", []any{leaf("name", "=", "Add export")}, []int64{2}},
		{"!= includes empty", []any{leaf("x_github_issue_id", "!=", 101)}, []int64{2, 3}},
		{">", []any{leaf("x_github_issue_id", ">", 101)}, []int64{2}},
		{">=", []any{leaf("x_github_issue_id", ">=", 101)}, []int64{1, 2}},
		{"<", []any{leaf("x_github_issue_id", "<", 102)}, []int64{1, 3}},
		{"<=", []any{leaf("x_github_issue_id", "<=", 102)}, []int64{1, 2, 3}},
		{"in", []any{leaf("x_github_issue_id", "in", []any{101, 102})}, []int64{1, 2}},
		{"not in", []any{leaf("x_github_issue_id", "not in", []any{101})}, []int64{2, 3}},
		{"like is case-sensitive", []any{leaf("name", "like", "fix")}, []int64{3}},
		{"ilike", []any{leaf("name", "ilike", "FIX")}, []int64{1, 3}},
		{"=like anchors", []any{leaf("name", "=like", "Fix%")}, []int64{1}},
		{"=ilike anchors", []any{leaf("name", "=ilike", "fix_%")}, []int64{1, 3}},
		{"not ilike", []any{leaf("name", "not ilike", "fix")}, []int64{2}},
		{"| of two", []any{"|", leaf("name", "=", "Add export"), leaf("name", "=", "fix typo")}, []int64{2, 3}},
		{"! negates", []any{"!", leaf("priority", "=", "1")}, []int64{2, 3}},
		{"& explicit", []any{"&", leaf("name", "ilike", "fix"), leaf("priority", "=", "1")}, []int64{1}},
		{"implicit and", []any{leaf("name", "ilike", "fix"), leaf("priority", "=", "0")}, []int64{3}},
		{"nested | inside &", []any{leaf("priority", "=", "0"), "|", leaf("project_id", "=", 2), leaf("project_id", "=", false)}, []int64{2, 3}},
		{"integer unset", []any{leaf("x_github_issue_id", "=", false)}, []int64{3}},
		{"many2one by id", []any{leaf("project_id", "=", 1)}, []int64{1}},
		{"many2one empty", []any{leaf("project_id", "=", false)}, []int64{3}},
		{"many2one set", []any{leaf("project_id", "!=", false)}, []int64{1, 2}},
		{"many2one by name", []any{leaf("project_id", "ilike", "web")}, []int64{1}},
		{"dotted path", []any{leaf("project_id.name", "=", "Mobile")}, []int64{2}},
		{"datetime as string", []any{leaf("write_date", ">", "2026-01-01 00:00:01")}, []int64{2, 3}},
		{"datetime equal", []any{leaf("write_date", "=", "2026-01-01 00:00:02")}, []int64{2}},
		{"archived only when asked", []any{leaf("active", "=", false)}, []int64{4}},
		{"true leaf", []any{[]any{1, "=", 1}}, []int64{1, 2, 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := c.Search(context.Background(), "project.task", tc.domain, odoo.SearchOptions{Order: "id"})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("ids = %v, want %v", ids, tc.want)
			}
		})
	}
}

func TestInvalidDomainsAreValueErrors(t *testing.T) {
	s, _ := taskFixture(t)
	c := client(t, s, odoo.TransportXMLRPC)
	for _, domain := range [][]any{
		{[]any{"nope", "=", 1}},
		{[]any{"name", "~", "x"}},
		{"|", []any{"name", "=", "x"}},
		{[]any{"project_id.nope", "=", 1}},
	} {
		_, err := c.Search(context.Background(), "project.task", domain, odoo.SearchOptions{})
		var f *odoo.Fault
		if !errors.As(err, &f) || f.Code != 1 || f.Name != "ValueError" || f.Transient() {
			t.Errorf("domain %v: err = %v", domain, err)
		}
	}
	_, err := c.Search(context.Background(), "project.task", []any{[]any{"nope", "=", 1}}, odoo.SearchOptions{})
	if want := "ValueError: Invalid field project.task.nope in condition ('nope', '=', 1)"; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestSearchOrdersAndPages(t *testing.T) {
	s, _ := taskFixture(t)
	c := client(t, s, odoo.TransportJSON2)
	cases := []struct {
		opts odoo.SearchOptions
		want []int64
	}{
		{odoo.SearchOptions{Order: "write_date asc, id asc"}, []int64{1, 2, 3}},
		{odoo.SearchOptions{Order: "write_date desc"}, []int64{3, 2, 1}},
		{odoo.SearchOptions{Order: "x_github_issue_id desc"}, []int64{3, 2, 1}}, // empty first when descending
		{odoo.SearchOptions{Order: "x_github_issue_id"}, []int64{1, 2, 3}},
		{odoo.SearchOptions{Order: "project_id, id"}, []int64{2, 1, 3}}, // by the project's name
		{odoo.SearchOptions{}, []int64{1, 3, 2}},                        // _order: priority desc, sequence, id desc
		{odoo.SearchOptions{Order: "id", Limit: 2}, []int64{1, 2}},
		{odoo.SearchOptions{Order: "id", Offset: 1}, []int64{2, 3}},
		{odoo.SearchOptions{Order: "id", Offset: 1, Limit: 1}, []int64{2}},
		{odoo.SearchOptions{Order: "id", Offset: 5}, []int64{}},
	}
	for _, tc := range cases {
		ids, err := c.Search(context.Background(), "project.task", nil, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%+v: ids = %v, want %v", tc.opts, ids, tc.want)
		}
	}
	if _, err := c.Search(context.Background(), "project.task", nil, odoo.SearchOptions{Order: "nope"}); !isValueError(err) {
		t.Errorf("bad order: err = %v", err)
	}
}

func isValueError(err error) bool {
	var f *odoo.Fault
	return errors.As(err, &f) && !f.Transient() && strings.HasSuffix(f.Name, "ValueError")
}

func configSecret(v string) config.Secret { return config.NewSecret(v) }
