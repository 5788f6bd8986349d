package odootest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// store is the fake's database: one table per model. It is not safe for
// concurrent use; the Server serializes calls into it.
type store struct {
	models map[string]*Model
	tables map[string]*table
	now    func() time.Time
	uid    int64 // the user of the current call, for messages
}

type table struct {
	rows   map[int64]row
	nextID int64
}

// row holds stored values (see values.go); empty values are absent.
type row map[string]any

func newStore(models []Model, now func() time.Time) *store {
	s := &store{models: map[string]*Model{}, tables: map[string]*table{}, now: now}
	for _, m := range models {
		s.addModel(m)
	}
	return s
}

// addModel declares m, or adds its fields to the model of the same name.
func (s *store) addModel(m Model) {
	if old, ok := s.models[m.Name]; ok {
		merged := *old
		merged.Fields = maps.Clone(old.Fields)
		maps.Copy(merged.Fields, m.Fields)
		merged.Unique = append(slices.Clone(old.Unique), m.Unique...)
		if m.Order != "" {
			merged.Order = m.Order
		}
		if m.Description != "" {
			merged.Description = m.Description
		}
		s.models[m.Name] = &merged
		return
	}
	m.Fields = maps.Clone(m.Fields)
	if m.Fields == nil {
		m.Fields = map[string]Field{}
	}
	s.models[m.Name] = &m
	s.tables[m.Name] = &table{rows: map[int64]row{}, nextID: 1}
}

func (s *store) model(name string) (*Model, *odooError) {
	m, ok := s.models[name]
	if !ok {
		return nil, unknownModel(name)
	}
	return m, nil
}

func (s *store) row(model string, id int64) (row, bool) {
	t, ok := s.tables[model]
	if !ok {
		return nil, false
	}
	r, ok := t.rows[id]
	return r, ok
}

// ids lists a model's ids in ascending order.
func (s *store) ids(model string) []int64 {
	t := s.tables[model]
	ids := make([]int64, 0, len(t.rows))
	for id := range t.rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// create inserts one record. vals may hold "id" to choose the id (the
// Server's Insert uses it; RPC callers cannot, as in Odoo).
func (s *store) create(m *Model, vals map[string]any, allowID bool) (int64, *odooError) {
	t := s.tables[m.Name]
	r := row{}
	for name, f := range m.Fields {
		if f.Default != nil && f.Type != One2many {
			r[name] = f.Default
		}
	}
	id := t.nextID
	if v, ok := vals["id"]; ok && allowID {
		id, _ = asID(v)
		if _, dup := t.rows[id]; dup || id <= 0 {
			return 0, valueError("the id %d is taken", id)
		}
	}
	if err := s.apply(m, r, vals, allowID); err != nil {
		return 0, err
	}
	if err := s.checkRequired(m, r); err != nil {
		return 0, err
	}
	if err := s.checkUnique(m, r, 0); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	r["id"], r["create_date"], r["write_date"] = id, now, now
	s.computeStored(m, r)
	t.rows[id] = r
	t.nextID = max(t.nextID, id+1)
	return id, nil
}

// apply validates vals and copies them into r.
func (s *store) apply(m *Model, r row, vals map[string]any, allowID bool) *odooError {
	for _, name := range sortedKeys(vals) {
		if allowID && name == "id" {
			continue
		}
		f, ok := m.Fields[name]
		if !ok {
			if _, magic := magicFields[name]; magic {
				continue // Odoo ignores writes to its magic fields
			}
			return &odooError{class: clsValue, raise: `raise ValueError(f"Invalid field {field_name!r} in {self._name!r}")`,
				message: fmt.Sprintf("Invalid field '%s' in '%s'", name, m.Name)}
		}
		var v any
		var err *odooError
		if f.Type == Many2many {
			cur, _ := r[name].([]int64)
			if b, isBool := vals[name].(bool); isBool && !b {
				v = nil
			} else {
				v, err = coerceCommands(cur, vals[name])
			}
		} else {
			v, err = s.coerce(m, name, f, vals[name])
		}
		if err != nil {
			return err
		}
		if v == nil {
			delete(r, name)
		} else {
			r[name] = v
		}
	}
	return nil
}

func (s *store) checkRequired(m *Model, r row) *odooError {
	for _, name := range sortedKeys(m.Fields) {
		f := m.Fields[name]
		if f.Required && r[name] == nil {
			return validationError(fmt.Sprintf("The operation cannot be completed:\n"+
				"- Create/update: a mandatory field is not set.\n"+
				"- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"+
				"Model: %s (%s)\nField: %s (%s)\n", m.description(), m.Name, f.label(name), name))
		}
	}
	return nil
}

// checkUnique answers as Odoo turns a UniqueViolation into a ValidationError.
func (s *store) checkUnique(m *Model, r row, self int64) *odooError {
	for _, name := range m.Unique {
		v := r[name]
		if _, list := v.([]int64); v == nil || list {
			continue
		}
		for id, other := range s.tables[m.Name].rows {
			if id != self && other[name] == v {
				table := strings.ReplaceAll(m.Name, ".", "_")
				return validationError(fmt.Sprintf("The operation cannot be completed: duplicate key value violates unique constraint "+
					"\"%s_%s_uniq\"\nDETAIL:  Key (%s)=(%v) already exists.\n", table, name, name, v))
			}
		}
	}
	return nil
}

// computeStored keeps stored computed fields up to date.
func (s *store) computeStored(m *Model, r row) {
	if m.Name == "ir.model.data" {
		r["complete_name"] = fmt.Sprintf("%v.%v", r["module"], r["name"])
	}
}

// existing splits ids into the records that exist and raises MissingError
// for the others, as Odoo does on write, unlink and read.
func (s *store) existing(m *Model, ids []int64) ([]row, *odooError) {
	rows := make([]row, 0, len(ids))
	var missing []int64
	for _, id := range ids {
		if r, ok := s.row(m.Name, id); ok {
			rows = append(rows, r)
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, missingError(m.Name, missing, s.uid)
	}
	return rows, nil
}

// write sets vals on every record of ids, all or nothing.
func (s *store) write(m *Model, ids []int64, vals map[string]any) *odooError {
	rows, err := s.existing(m, ids)
	if err != nil {
		return err
	}
	updated := make([]row, len(rows))
	for i, r := range rows {
		nr := maps.Clone(r)
		if err := s.apply(m, nr, vals, false); err != nil {
			return err
		}
		if err := s.checkRequired(m, nr); err != nil {
			return err
		}
		if err := s.checkUnique(m, nr, r["id"].(int64)); err != nil {
			return err
		}
		updated[i] = nr
	}
	now := s.now().UTC()
	for _, nr := range updated {
		nr["write_date"] = now
		s.computeStored(m, nr)
		s.tables[m.Name].rows[nr["id"].(int64)] = nr
	}
	return nil
}

// unlink deletes ids and empties the many2one and many2many values that
// pointed at them (ondelete set null).
func (s *store) unlink(m *Model, ids []int64) *odooError {
	if _, err := s.existing(m, ids); err != nil {
		return err
	}
	gone := map[int64]bool{}
	for _, id := range ids {
		delete(s.tables[m.Name].rows, id)
		gone[id] = true
	}
	for _, other := range s.models {
		for name, f := range other.Fields {
			if f.Relation != m.Name {
				continue
			}
			for _, r := range s.tables[other.Name].rows {
				switch v := r[name].(type) {
				case int64:
					if gone[v] {
						delete(r, name)
					}
				case []int64:
					r[name] = slices.DeleteFunc(slices.Clone(v), func(id int64) bool { return gone[id] })
				}
			}
		}
	}
	return nil
}

// displayName is what a many2one shows for the record.
func (s *store) displayName(model string, id int64) string {
	m, ok := s.models[model]
	r, exists := s.row(model, id)
	if !ok || !exists {
		return fmt.Sprintf("%s,%d", model, id)
	}
	rec := m.RecName
	if rec == "" {
		rec = "name"
	}
	if v, ok := r[rec].(string); ok {
		return v
	}
	return fmt.Sprintf("%s,%d", model, id)
}

// one2many lists the records of f.Relation whose f.Inverse is id.
func (s *store) one2many(f Field, id int64) []int64 {
	var ids []int64
	for _, cid := range s.ids(f.Relation) {
		if r, _ := s.row(f.Relation, cid); r[f.Inverse] == id {
			ids = append(ids, cid)
		}
	}
	return ids
}

// snapshot copies the tables of models; the returned func puts them back.
func (s *store) snapshot(models ...string) (restore func()) {
	saved := map[string]*table{}
	for _, name := range models {
		t := s.tables[name]
		cp := &table{rows: make(map[int64]row, len(t.rows)), nextID: t.nextID}
		for id, r := range t.rows {
			cp.rows[id] = maps.Clone(r)
		}
		saved[name] = cp
	}
	return func() { maps.Copy(s.tables, saved) }
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
