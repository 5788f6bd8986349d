package odootest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// signature is how a method's positional arguments are named: JSON-2
// sends the names, XML-RPC the positions.
type signature struct {
	records bool     // called on records: XML-RPC's args[0] are the ids
	names   []string // the positional arguments after the ids
}

var signatures = map[string]signature{
	"search":       {names: []string{"domain", "offset", "limit", "order"}},
	"search_read":  {names: []string{"domain", "fields", "offset", "limit", "order"}},
	"search_count": {names: []string{"domain", "limit"}},
	"create":       {names: []string{"vals_list"}},
	"load":         {names: []string{"fields", "data"}},
	"name_search":  {names: []string{"name", "domain", "operator", "limit"}},
	"fields_get":   {names: []string{"allfields", "attributes"}},
	"context_get":  {},
	"read":         {records: true, names: []string{"fields", "load"}},
	"write":        {records: true, names: []string{"vals"}},
	"unlink":       {records: true},
}

// request is one ORM call, whichever transport brought it.
type request struct {
	uid           int64
	model, method string
	ids           []int64
	kw            map[string]any
}

// fromPositional names execute_kw's positional args as JSON-2 would.
func fromPositional(uid int64, model, method string, args []any, kw map[string]any) (request, *odooError) {
	r := request{uid: uid, model: model, method: method, kw: maps.Clone(kw)}
	if r.kw == nil {
		r.kw = map[string]any{}
	}
	sig, ok := signatures[method]
	if !ok {
		return r, nil // exec raises the unknown method
	}
	if sig.records {
		if len(args) == 0 {
			return r, typeError("%s() missing 1 required positional argument: 'ids'", method)
		}
		ids, ok := anyIDs(args[0])
		if !ok {
			return r, valueError("Invalid ids %s", pyRepr(args[0]))
		}
		r.ids, args = ids, args[1:]
	}
	if len(args) > len(sig.names) {
		return r, typeError("%s() takes %d positional arguments but %d were given", method, len(sig.names)+1, len(args)+1)
	}
	for k := range r.kw {
		if k != "context" && !slices.Contains(sig.names, k) {
			return r, typeError("%s() got an unexpected keyword argument '%s'", method, k)
		}
	}
	for i, a := range args {
		if _, dup := r.kw[sig.names[i]]; dup {
			return r, typeError("%s() got multiple values for argument '%s'", method, sig.names[i])
		}
		r.kw[sig.names[i]] = a
	}
	return r, nil
}

func typeError(format string, args ...any) *odooError {
	return &odooError{class: "TypeError", message: fmt.Sprintf(format, args...), raise: "result = method(recs, *args, **kwargs)"}
}

// anyIDs reads ids given as a list or as a single id.
func anyIDs(v any) ([]int64, bool) {
	if id, ok := asID(v); ok {
		return []int64{id}, true
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	return idList(l)
}

// exec runs one call; n is the number of records it touched, for latency.
func (s *store) exec(r request) (result any, n int, err *odooError) {
	m, err := s.model(r.model)
	if err != nil {
		return nil, 0, err
	}
	s.uid = r.uid
	switch r.method {
	case "search", "search_count", "search_read":
		return s.execSearch(m, r)
	case "read":
		fields := kwStrings(r.kw, "fields")
		if err := checkFields(m, fields); err != nil {
			return nil, 0, err
		}
		rows, err := s.existing(m, r.ids)
		if err != nil {
			return nil, 0, err
		}
		style := readClassic
		if v, ok := r.kw["load"]; ok && v != "_classic_read" {
			style = readBare
		}
		out := make([]omap, len(rows))
		for i, row := range rows {
			out[i] = s.render(m, row, fields, style)
		}
		return out, len(out), nil
	case "create":
		return s.execCreate(m, r.kw["vals_list"])
	case "write":
		vals, _ := r.kw["vals"].(map[string]any)
		return true, len(r.ids), s.write(m, r.ids, vals)
	case "unlink":
		return true, len(r.ids), s.unlink(m, r.ids)
	case "load":
		data, _ := r.kw["data"].([]any)
		return s.load(m, kwStrings(r.kw, "fields"), data), len(data), nil
	case "name_search":
		return s.execNameSearch(m, r.kw)
	case "fields_get":
		return s.fieldsGet(m), 0, nil
	case "context_get":
		if m.Name == "res.users" {
			return omap{{"lang", "en_US"}, {"tz", "UTC"}, {"uid", r.uid}}, 0, nil
		}
	}
	return nil, 0, unknownMethod(m.Name, r.method)
}

func (s *store) execSearch(m *Model, r request) (any, int, *odooError) {
	domain, ok := r.kw["domain"].([]any)
	if v, given := r.kw["domain"]; given && !ok && v != false {
		return nil, 0, valueError("Invalid domain %s", pyRepr(v))
	}
	ctx, _ := r.kw["context"].(map[string]any)
	a := searchArgs{domain: domain, offset: kwInt(r.kw, "offset"), limit: kwInt(r.kw, "limit"), order: kwString(r.kw, "order"), context: ctx}
	ids, err := s.search(m, a)
	if err != nil {
		return nil, 0, err
	}
	switch r.method {
	case "search_count":
		return int64(len(ids)), 0, nil
	case "search":
		return ids, len(ids), nil
	}
	fields := kwStrings(r.kw, "fields")
	if err := checkFields(m, fields); err != nil {
		return nil, 0, err
	}
	out := make([]omap, len(ids))
	for i, id := range ids {
		row, _ := s.row(m.Name, id)
		out[i] = s.render(m, row, fields, readClassic)
	}
	return out, len(out), nil
}

// execCreate creates one record from a dict (answering its id) or one per
// dict of a list (answering the ids), all or nothing.
func (s *store) execCreate(m *Model, v any) (any, int, *odooError) {
	if one, ok := v.(map[string]any); ok {
		id, err := s.create(m, one, false)
		return id, 1, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, 0, typeError("create() argument vals_list must be a dict or a list of dicts")
	}
	restore := s.snapshot(m.Name)
	ids := make([]int64, 0, len(list))
	for _, e := range list {
		vals, ok := e.(map[string]any)
		if !ok {
			restore()
			return nil, 0, typeError("create() expects dicts, got %s", pyRepr(e))
		}
		id, err := s.create(m, vals, false)
		if err != nil {
			restore()
			return nil, 0, err
		}
		ids = append(ids, id)
	}
	return ids, len(ids), nil
}

func (s *store) execNameSearch(m *Model, kw map[string]any) (any, int, *odooError) {
	name := kwString(kw, "name")
	op := kwString(kw, "operator")
	if op == "" {
		op = "ilike"
	}
	domain, _ := kw["domain"].([]any)
	if name != "" {
		domain = append([]any{[]any{"display_name", op, name}}, domain...)
	}
	limit := 100
	if _, given := kw["limit"]; given {
		limit = kwInt(kw, "limit")
	}
	ids, err := s.search(m, searchArgs{domain: domain, limit: limit})
	if err != nil {
		return nil, 0, err
	}
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = []any{id, s.displayName(m.Name, id)}
	}
	return out, len(out), nil
}

func (s *store) fieldsGet(m *Model) omap {
	var out omap
	for _, name := range m.fieldNames() {
		f, _ := m.field(name)
		desc := omap{{"type", string(f.Type)}, {"string", f.label(name)}, {"required", f.Required}}
		if f.Relation != "" {
			desc = append(desc, kv{"relation", f.Relation})
		}
		if f.Type == Selection {
			sel := make([]any, len(f.Values))
			for i, v := range f.Values {
				sel[i] = []any{v, v}
			}
			desc = append(desc, kv{"selection", sel})
		}
		out = append(out, kv{name, desc})
	}
	return out
}

func kwStrings(kw map[string]any, key string) []string {
	l, _ := kw[key].([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

func kwInt(kw map[string]any, key string) int {
	n, _ := asID(kw[key])
	return int(n)
}

func kwString(kw map[string]any, key string) string {
	s, _ := kw[key].(string)
	return s
}
