package odootest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/odoo"
)

func TestLoadUpsertsByExternalID(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			s := New(t)
			c := client(t, s, tr)
			ctx := context.Background()
			fields := []string{"id", "name", "x_github_issue_id", "priority", "project_id/id"}
			if _, _, err := c.Load(ctx, "project.project", []string{"id", "name"}, [][]any{{"github.repo_1", "Website"}}); err != nil {
				t.Fatal(err)
			}
			first, msgs, err := c.Load(ctx, "project.task", fields, [][]any{
				{"issue_101", "Fix login", "101", "1", "github.repo_1"},
				{"issue_102", "Add export", "102", "0", ""},
			})
			if err != nil || len(first) != 2 || len(msgs) != 0 {
				t.Fatalf("first load: ids %v, messages %v, err %v", first, msgs, err)
			}
			again, _, err := c.Load(ctx, "project.task", fields, [][]any{
				{"issue_101", "Fix login (edited)", "101", "1", "github.repo_1"},
				{"__import__.issue_103", "New", "103", "0", ""},
			})
			if err != nil {
				t.Fatal(err)
			}
			if again[0] != first[0] || again[1] == first[1] || s.Count("project.task") != 3 {
				t.Fatalf("second load ids %v (first %v), %d tasks", again, first, s.Count("project.task"))
			}
			recs, err := c.Read(ctx, "project.task", []int64{first[0]}, []string{"name", "project_id", "x_github_issue_id", "priority"})
			if err != nil {
				t.Fatal(err)
			}
			if r := recs[0]; r.String("name") != "Fix login (edited)" || r.Int("x_github_issue_id") != 101 || r.String("priority") != "1" || r.String("project_id") != "Website" {
				t.Errorf("task = %v", r)
			}
			data, err := c.SearchRead(ctx, "ir.model.data", []any{[]any{"module", "=", "__import__"}, []any{"model", "=", "project.task"}},
				[]string{"name", "res_id", "complete_name"}, odoo.SearchOptions{Order: "name"})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range data {
				names = append(names, d.String("complete_name"))
			}
			if !slices.Equal(names, []string{"__import__.issue_101", "__import__.issue_102", "__import__.issue_103"}) || data[0].Int("res_id") != first[0] {
				t.Errorf("ir.model.data = %v", data)
			}
			ids, err := c.Search(ctx, "ir.model.data", []any{[]any{"model", "=", "project.project"}, []any{"res_id", "=", recs[0].Int("project_id")}}, odoo.SearchOptions{})
			if err != nil || len(ids) != 1 {
				t.Errorf("lookup by model and res_id: %v, %v", ids, err)
			}
		})
	}
}

func TestLoadErrorRollsBackAndReportsTheRow(t *testing.T) {
	s := New(t)
	c := client(t, s, odoo.TransportXMLRPC)
	ids, msgs, err := c.Load(context.Background(), "project.task", []string{"id", "name", "project_id/id"}, [][]any{
		{"ok_row", "Fine", ""},
		{"bad_row", "Broken", "no_such_project"},
	})
	f := faultOf(t, err)
	if ids != nil || len(msgs) != 1 || msgs[0].Record != 1 || msgs[0].Field != "project_id" {
		t.Fatalf("ids %v, messages %+v", ids, msgs)
	}
	if !strings.Contains(f.Message, "No matching record found for external id 'no_such_project' in field 'Project'") {
		t.Errorf("fault = %v", f)
	}
	if n := s.Count("project.task"); n != 0 {
		t.Errorf("%d tasks kept after a failed load", n)
	}
	if n := s.Count("ir.model.data"); n != 0 {
		t.Errorf("%d external ids kept after a failed load", n)
	}
}
