package odoo

import (
	"slices"
	"testing"
	"time"
)

// sample is a record as Odoo sends one, with every awkward value.
var sample = Record{
	"id":          int64(7),
	"name":        "Fixture Co",
	"phone":       false,
	"parent_id":   []any{int64(3), "Parent"},
	"country_id":  false,
	"company_id":  int64(1), // webhook bodies send a bare id
	"category_id": []any{int64(4), int64(5)},
	"child_ids":   []any{},
	"amount":      12.5,
	"count":       3.0, // an integral float
	"is_company":  true,
	"write_date":  "2026-11-22 05:21:36",
	"create_date": "2026-11-22 05:14:39.350509",
	"date":        "2026-11-22",
}

func TestScalarAccessors(t *testing.T) {
	r := sample
	if r.ID() != 7 || r.Int("count") != 3 || r.Int("parent_id") != 3 || r.Int("phone") != 0 || r.Int("missing") != 0 {
		t.Errorf("Int: %d %d %d", r.ID(), r.Int("count"), r.Int("parent_id"))
	}
	if r.String("name") != "Fixture Co" || r.String("phone") != "" || r.String("parent_id") != "Parent" || r.String("missing") != "" {
		t.Errorf("String: %q %q %q", r.String("name"), r.String("phone"), r.String("parent_id"))
	}
	if r.Float("amount") != 12.5 || r.Float("id") != 7 || r.Float("phone") != 0 {
		t.Errorf("Float: %v", r.Float("amount"))
	}
	if !r.Bool("is_company") || r.Bool("phone") || r.Bool("name") {
		t.Error("Bool")
	}
}

func TestRelationalAccessors(t *testing.T) {
	r := sample
	m2o := []struct {
		field string
		id    int64
		name  string
		ok    bool
	}{
		{"parent_id", 3, "Parent", true},
		{"country_id", 0, "", false},
		{"company_id", 1, "", true},
		{"missing", 0, "", false},
	}
	for _, c := range m2o {
		if id, name, ok := r.Many2One(c.field); id != c.id || name != c.name || ok != c.ok {
			t.Errorf("Many2One(%s) = %d %q %v", c.field, id, name, ok)
		}
	}
	if !slices.Equal(r.IDs("category_id"), []int64{4, 5}) || len(r.IDs("child_ids")) != 0 || r.IDs("country_id") != nil ||
		!slices.Equal(r.IDs("parent_id"), []int64{3}) {
		t.Errorf("IDs: %v %v", r.IDs("category_id"), r.IDs("child_ids"))
	}
}

func TestTimeAccessors(t *testing.T) {
	r := sample
	times := []struct {
		field string
		want  time.Time
		ok    bool
	}{
		{"write_date", time.Date(2026, 11, 22, 5, 21, 36, 0, time.UTC), true},
		{"create_date", time.Date(2026, 11, 22, 5, 14, 39, 350509000, time.UTC), true},
		{"date", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), true},
		{"phone", time.Time{}, false},
		{"name", time.Time{}, false},
	}
	for _, c := range times {
		if got, ok := r.Time(c.field); !got.Equal(c.want) || ok != c.ok {
			t.Errorf("Time(%s) = %v %v", c.field, got, ok)
		}
	}
	if FormatTime(time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))) != "2026-01-02 02:04:05" {
		t.Error("FormatTime")
	}
}
