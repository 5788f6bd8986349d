package odootest

import (
	"fmt"
	"strconv"
	"strings"
)

const modelData = "ir.model.data"

// load runs Odoo's import: one record per row, upserted by external id
// when an "id" column is given (unqualified ids go to module __import__),
// "<field>/id" columns resolved by external id and "<field>/.id" by
// database id, other columns converted from their CSV text. Any error
// rolls the whole import back and answers ids false with the messages.
func (s *store) load(m *Model, fields []string, data []any) omap {
	restore := s.snapshot(m.Name, modelData)
	ids := []int64{}
	var msgs []any
	for i, d := range data {
		values, _ := d.([]any)
		id, field, err := s.loadRow(m, fields, values)
		if err != nil {
			msg := omap{{"type", "error"}, {"message", err.message}, {"record", int64(i)},
				{"rows", omap{{"from", int64(i)}, {"to", int64(i)}}}}
			if field != "" {
				msg = append(msg, kv{"field", field})
			}
			msgs = append(msgs, msg)
			continue
		}
		ids = append(ids, id)
	}
	if len(msgs) > 0 {
		restore()
		return omap{{"ids", false}, {"messages", msgs}, {"nextrow", int64(0)}}
	}
	return omap{{"ids", ids}, {"messages", []any{}}, {"nextrow", int64(0)}}
}

// loadRow imports one row; field names the column at fault, if any.
func (s *store) loadRow(m *Model, fields []string, values []any) (int64, string, *odooError) {
	vals := map[string]any{}
	var xmlid string
	var dbid int64
	for j, col := range fields {
		var raw any = ""
		if j < len(values) {
			raw = values[j]
		}
		name, suffix, _ := strings.Cut(col, "/")
		switch {
		case col == "id":
			xmlid = strings.TrimSpace(fmt.Sprint(raw))
			continue
		case col == ".id":
			dbid, _ = asID(raw)
			if str, ok := raw.(string); ok {
				dbid, _ = strconv.ParseInt(str, 10, 64)
			}
			continue
		}
		f, ok := m.Fields[name]
		if !ok {
			return 0, col, valueError("Unknown field %s", pyRepr(col))
		}
		v, err := s.importValue(f, name, suffix, raw)
		if err != nil {
			return 0, name, err
		}
		vals[name] = v
	}
	id, err := s.upsert(m, xmlid, dbid, vals)
	return id, "", err
}

// importValue converts one cell as Odoo's ir.fields.converter does.
func (s *store) importValue(f Field, name, suffix string, raw any) (any, *odooError) {
	str, isString := raw.(string)
	if !isString {
		return raw, nil // a typed value sent over RPC goes through as is
	}
	str = strings.TrimSpace(str)
	label := f.label(name)
	if str == "" {
		return false, nil
	}
	switch {
	case suffix == "id" && f.relational():
		return s.importRelated(f, label, str, func(ref string) (int64, bool) { return s.resolveXMLID(ref, f.Relation) }, "external id")
	case suffix == ".id" && f.relational():
		return s.importRelated(f, label, str, func(ref string) (int64, bool) {
			id, err := strconv.ParseInt(ref, 10, 64)
			_, ok := s.row(f.Relation, id)
			return id, err == nil && ok
		}, "database id")
	case suffix != "":
		return nil, valueError("Unknown sub-field %s", pyRepr(suffix))
	case f.relational():
		return s.importRelated(f, label, str, func(ref string) (int64, bool) { return s.findByName(f.Relation, ref) }, "name")
	}
	switch f.Type {
	case Integer:
		n, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return nil, valueError("'%s' does not seem to be an integer for field '%s'", str, label)
		}
		return n, nil
	case Float, Monetary:
		x, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, valueError("'%s' does not seem to be a number for field '%s'", str, label)
		}
		return x, nil
	case Boolean:
		switch strings.ToLower(str) {
		case "0", "false", "no":
			return false, nil
		}
		return true, nil
	case Selection:
		for _, v := range f.Values {
			if v == str {
				return v, nil
			}
		}
		return nil, valueError("Value '%s' not found in selection field '%s'", str, label)
	}
	return str, nil
}

// importRelated resolves a many2one reference, or a comma-separated list
// of them for a x2many.
func (s *store) importRelated(f Field, label, str string, resolve func(string) (int64, bool), kind string) (any, *odooError) {
	refs := []string{str}
	if f.Type != Many2one {
		refs = strings.Split(str, ",")
	}
	var ids []any
	for _, ref := range refs {
		ref = strings.TrimSpace(ref)
		id, ok := resolve(ref)
		if !ok {
			return nil, valueError("No matching record found for %s '%s' in field '%s'", kind, ref, label)
		}
		ids = append(ids, id)
	}
	if f.Type == Many2one {
		return ids[0], nil
	}
	return ids, nil
}

func (s *store) findByName(model, name string) (int64, bool) {
	for _, id := range s.ids(model) {
		if s.displayName(model, id) == name {
			return id, true
		}
	}
	return 0, false
}

func splitXMLID(xmlid string) (module, name string) {
	if module, name, ok := strings.Cut(xmlid, "."); ok {
		return module, name
	}
	return "__import__", xmlid
}

// findXMLID returns the ir.model.data row of module.name.
func (s *store) findXMLID(module, name string) (row, bool) {
	for _, r := range s.tables[modelData].rows {
		if r["module"] == module && r["name"] == name {
			return r, true
		}
	}
	return nil, false
}

// resolveXMLID returns the id of the record of model named by xmlid.
func (s *store) resolveXMLID(xmlid, model string) (int64, bool) {
	d, ok := s.findXMLID(splitXMLID(xmlid))
	if !ok || d["model"] != model {
		return 0, false
	}
	id, _ := d["res_id"].(int64)
	_, exists := s.row(model, id)
	return id, exists
}

// upsert writes the record named by dbid or xmlid if it exists, else
// creates it and, for an xmlid, its ir.model.data row.
func (s *store) upsert(m *Model, xmlid string, dbid int64, vals map[string]any) (int64, *odooError) {
	if dbid != 0 {
		return dbid, s.write(m, []int64{dbid}, vals)
	}
	if xmlid == "" {
		return s.create(m, vals, false)
	}
	module, name := splitXMLID(xmlid)
	if d, ok := s.findXMLID(module, name); ok {
		id, _ := d["res_id"].(int64)
		if _, exists := s.row(m.Name, id); exists && d["model"] == m.Name {
			return id, s.write(m, []int64{id}, vals)
		}
		delete(s.tables[modelData].rows, d["id"].(int64)) // stale: its record is gone
	}
	id, err := s.create(m, vals, false)
	if err != nil {
		return 0, err
	}
	_, err = s.create(s.models[modelData], map[string]any{"module": module, "name": name, "model": m.Name, "res_id": id}, false)
	return id, err
}
