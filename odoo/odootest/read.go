package odootest

import (
	"fmt"
	"slices"
	"time"
)

// readStyle is how a record's values are rendered.
type readStyle int

const (
	readClassic readStyle = iota // read/search_read: many2one as [id, "name"]
	readBare                     // load=None: many2one as its id
	readWebhook                  // a webhook body: load=None, datetimes with microseconds
)

// checkFields raises what Odoo raises for a field the model does not have.
func checkFields(m *Model, fields []string) *odooError {
	for _, f := range fields {
		if _, ok := m.field(f); !ok {
			return &odooError{class: clsValue, raise: `raise ValueError(f"Invalid field {field_name!r} on model {self._name!r}")`,
				message: fmt.Sprintf("Invalid field '%s' on model '%s'", f, m.Name)}
		}
	}
	return nil
}

// render is one record as read answers it: id first, then fields in the
// order asked (all fields, sorted, when none are asked).
func (s *store) render(m *Model, r row, fields []string, style readStyle) omap {
	if len(fields) == 0 {
		fields = m.fieldNames()
	}
	out := omap{{"id", r["id"]}}
	for _, name := range fields {
		if name == "id" {
			continue
		}
		f, _ := m.field(name)
		out = append(out, kv{name, s.readValue(m, r, name, f, style)})
	}
	return out
}

func (s *store) readValue(m *Model, r row, name string, f Field, style readStyle) any {
	id := r["id"].(int64)
	switch name {
	case "display_name":
		return s.displayName(m.Name, id)
	case "id":
		return id
	}
	if f.Type == One2many {
		return nonNil(s.one2many(f, id))
	}
	v := r[name]
	if v == nil {
		return emptyValue(f.Type)
	}
	switch f.Type {
	case Many2one:
		rid := v.(int64)
		if style == readClassic {
			return []any{rid, s.displayName(f.Relation, rid)}
		}
		return rid
	case Many2many:
		return nonNil(slices.Clone(v.([]int64)))
	case Datetime:
		if t, ok := v.(time.Time); ok {
			if style == readWebhook {
				return pyDatetime(t)
			}
			return t.Format(odooDatetime)
		}
	}
	return v
}

// emptyValue is what Odoo reads for an empty field of type t.
func emptyValue(t FieldType) any {
	switch t {
	case Integer:
		return int64(0)
	case Float, Monetary:
		return 0.0
	case Many2many, One2many:
		return []int64{}
	}
	return false
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// pyDatetime is Python's str(datetime): microseconds only when not zero.
func pyDatetime(t time.Time) string {
	if t.Nanosecond()/1000 == 0 {
		return t.Format(odooDatetime)
	}
	return t.Format("2006-01-02 15:04:05.000000")
}
