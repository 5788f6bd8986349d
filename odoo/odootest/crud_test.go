package odootest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/odoo"
)

var transports = []string{odoo.TransportXMLRPC, odoo.TransportJSON2}

// faultOf asserts err is a permanent *odoo.Fault and returns it.
func faultOf(t *testing.T, err error) *odoo.Fault {
	t.Helper()
	var f *odoo.Fault
	if !errors.As(err, &f) {
		t.Fatalf("err = %v (%T), want *odoo.Fault", err, err)
	}
	if f.Transient() {
		t.Fatalf("err = %v is transient", err)
	}
	return f
}

// validationCase is a call Odoo refuses, and how each transport says so.
type validationCase struct {
	name     string
	call     func(*odoo.Client) error
	code     int    // XML-RPC faultCode
	status   int    // JSON-2 status
	contains string // in Message
}

func validationCases() []validationCase {
	ctx := context.Background()
	return []validationCase{
		{"required field missing", func(c *odoo.Client) error {
			_, err := c.CreateOne(ctx, "project.task", map[string]any{"description": "no name"})
			return err
		}, 2, 422, "Field: Title (name)"},
		{"bad selection value", func(c *odoo.Client) error {
			_, err := c.CreateOne(ctx, "project.task", map[string]any{"name": "x", "priority": "9"})
			return err
		}, 1, 500, "Wrong value for project.task.priority: '9'"},
		{"unknown field", func(c *odoo.Client) error {
			_, err := c.CreateOne(ctx, "res.partner", map[string]any{"name": "x", "no_such_field": 1})
			return err
		}, 1, 500, "Invalid field 'no_such_field' in 'res.partner'"},
		{"write of a missing id", func(c *odoo.Client) error {
			return c.Write(ctx, "res.partner", []int64{99999999}, map[string]any{"name": "x"})
		}, 2, 404, "Record does not exist or has been deleted.\n(Record: res.partner(99999999,), User: 2)"},
		{"unlink of missing ids", func(c *odoo.Client) error {
			return c.Unlink(ctx, "res.partner", []int64{99999998, 99999999})
		}, 2, 404, "(Record: res.partner(99999998, 99999999), User: 2)"},
		{"read of a missing id", func(c *odoo.Client) error {
			_, err := c.Read(ctx, "res.partner", []int64{99999999}, nil)
			return err
		}, 2, 404, "Record does not exist"},
		{"unknown model", func(c *odoo.Client) error {
			_, err := c.SearchCount(ctx, "no.such.model", nil)
			return err
		}, 2, 404, "no.such.model"},
		{"unknown method", func(c *odoo.Client) error {
			_, err := c.ExecuteKW(ctx, "res.partner", "no_such_method", nil, nil)
			return err
		}, 1, 404, "The method 'res.partner.no_such_method' does not exist"},
		{"unknown keyword argument", func(c *odoo.Client) error {
			_, err := c.ExecuteKW(ctx, "res.partner", "search", []any{[]any{}}, map[string]any{"nope": 1})
			return err
		}, 1, 422, "unexpected keyword argument 'nope'"},
		{"unique constraint", func(c *odoo.Client) error {
			_, err := c.Create(ctx, "project.task", []map[string]any{{"name": "a", "x_github_issue_id": 7}, {"name": "b", "x_github_issue_id": 7}})
			return err
		}, 2, 422, "The operation cannot be completed: duplicate key value violates unique constraint"},
	}
}

func TestValidationFaultsAreOdoos(t *testing.T) {
	for _, tr := range transports {
		for _, tc := range validationCases() {
			t.Run(tr+"/"+tc.name, func(t *testing.T) {
				s := New(t)
				s.AddModel(Model{Name: "project.task", Unique: []string{"x_github_issue_id"}})
				f := faultOf(t, tc.call(client(t, s, tr)))
				if tr == odoo.TransportXMLRPC && f.Code != tc.code || tr == odoo.TransportJSON2 && f.HTTPStatus != tc.status {
					t.Errorf("fault = %+v, want code %d / status %d", f, tc.code, tc.status)
				}
				if !strings.Contains(f.Message, tc.contains) {
					t.Errorf("message = %q, want it to contain %q", f.Message, tc.contains)
				}
			})
		}
	}
}

func TestUniqueConstraintRollsBackTheWholeCreate(t *testing.T) {
	s := New(t)
	s.AddModel(Model{Name: "project.task", Unique: []string{"x_github_issue_id"}})
	c := client(t, s, odoo.TransportXMLRPC)
	_, err := c.Create(context.Background(), "project.task", []map[string]any{{"name": "a", "x_github_issue_id": 7}, {"name": "b", "x_github_issue_id": 7}})
	faultOf(t, err)
	if n := s.Count("project.task"); n != 0 {
		t.Fatalf("%d tasks left after a failed create", n)
	}
	if _, err := c.CreateOne(context.Background(), "project.task", map[string]any{"name": "a", "x_github_issue_id": 7}); err != nil {
		t.Fatal(err)
	}
}

func TestReadAnswersOdooShapes(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			s := New(t, WithClock(fixedClock("2026-11-22 05:21:36.123456")))
			parent := insert(t, s, "res.partner", map[string]any{"name": "Parent Co", "is_company": true})
			child := insert(t, s, "res.partner", map[string]any{"name": "Kid", "parent_id": parent})
			c := client(t, s, tr)
			recs, err := c.Read(context.Background(), "res.partner", []int64{child, parent},
				[]string{"name", "parent_id", "phone", "child_ids", "category_id", "write_date", "display_name", "is_company"})
			if err != nil {
				t.Fatal(err)
			}
			kid, co := recs[0], recs[1]
			if id, name, ok := kid.Many2One("parent_id"); !ok || id != parent || name != "Parent Co" {
				t.Errorf("parent_id = %v", kid["parent_id"])
			}
			if kid["phone"] != false || co["parent_id"] != false || kid["is_company"] != false {
				t.Errorf("empty values are not false: %v / %v", kid, co)
			}
			if ids := co.IDs("child_ids"); len(ids) != 1 || ids[0] != child {
				t.Errorf("child_ids = %v", co["child_ids"])
			}
			if l, ok := kid["category_id"].([]any); !ok || len(l) != 0 {
				t.Errorf("category_id = %#v, want []", kid["category_id"])
			}
			if kid.String("write_date") != "2026-11-22 05:21:36" || kid.String("display_name") != "Kid" {
				t.Errorf("write_date/display_name = %v / %v", kid["write_date"], kid["display_name"])
			}
		})
	}
}

func TestRecordsAndCountSnapshot(t *testing.T) {
	s := New(t)
	c := client(t, s, odoo.TransportJSON2)
	ids, err := c.Create(context.Background(), "hr.expense", []map[string]any{{"name": "Taxi", "total_amount": 12.5}, {"name": "Lunch"}})
	if err != nil || len(ids) != 2 {
		t.Fatalf("ids, err = %v, %v", ids, err)
	}
	recs := s.Records("hr.expense")
	if len(recs) != 2 || s.Count("hr.expense") != 2 {
		t.Fatalf("records = %v", recs)
	}
	if recs[0]["total_amount"] != 12.5 || recs[1]["total_amount"] != 0.0 || recs[0]["state"] != "draft" || recs[0]["x_ocr_vendor"] != false {
		t.Errorf("records = %v", recs)
	}
	if s.CallsFor("hr.expense", "create") != 1 || s.Calls("create") != 1 {
		t.Errorf("calls = %d", s.Calls("create"))
	}
}
