package odootest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// searchArgs are search's keyword arguments.
type searchArgs struct {
	domain        []any
	offset, limit int
	order         string
	context       map[string]any
}

// search returns the ids matching a.domain, ordered and paged. As in Odoo,
// a model with an active field hides archived records unless the domain
// mentions active or the context says active_test: false.
func (s *store) search(m *Model, a searchArgs) ([]int64, *odooError) {
	domain := a.domain
	if _, ok := m.Fields["active"]; ok && !mentions(domain, "active") && a.context["active_test"] != false {
		domain = append([]any{[]any{"active", "=", true}}, domain...)
	}
	match, err := s.compileDomain(m, domain)
	if err != nil {
		return nil, err
	}
	terms, err := parseOrder(m, cmp.Or(a.order, m.Order, "id"))
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, id := range s.ids(m.Name) {
		if r, _ := s.row(m.Name, id); match(r) {
			ids = append(ids, id)
		}
	}
	s.sortIDs(m, ids, terms)
	if a.offset > 0 {
		ids = ids[min(a.offset, len(ids)):]
	}
	if a.limit > 0 && a.limit < len(ids) {
		ids = ids[:a.limit]
	}
	return ids, nil
}

func mentions(domain []any, field string) bool {
	for _, t := range domain {
		if leaf, ok := t.([]any); ok && len(leaf) == 3 {
			if p, _ := leaf[0].(string); p == field || strings.HasPrefix(p, field+".") {
				return true
			}
		}
	}
	return false
}

type orderTerm struct {
	field Field
	name  string
	desc  bool
}

// parseOrder reads "write_date asc, id asc"; an id term is added last so
// that equal keys keep a stable order.
func parseOrder(m *Model, spec string) ([]orderTerm, *odooError) {
	var terms []orderTerm
	hasID := false
	for _, part := range strings.Split(spec, ",") {
		words := strings.Fields(part)
		if len(words) == 0 {
			continue
		}
		f, ok := m.field(words[0])
		if !ok || len(words) > 2 {
			return nil, valueError("Invalid field %s on model %s", pyRepr(words[0]), pyRepr(m.Name))
		}
		t := orderTerm{field: f, name: words[0]}
		if len(words) == 2 {
			switch strings.ToLower(words[1]) {
			case "asc":
			case "desc":
				t.desc = true
			default:
				return nil, valueError("Invalid \"order\" specified (%s). A valid \"order\" specification is a comma-separated list "+
					"of valid field names (optionally followed by asc/desc for the direction)", spec)
			}
		}
		hasID = hasID || t.name == "id"
		terms = append(terms, t)
	}
	if !hasID {
		terms = append(terms, orderTerm{field: magicFields["id"], name: "id"})
	}
	return terms, nil
}

// sortIDs orders ids as PostgreSQL would: empty values last ascending,
// first descending; a many2one by the related record's display name.
func (s *store) sortIDs(m *Model, ids []int64, terms []orderTerm) {
	key := func(id int64, t orderTerm) any {
		r, _ := s.row(m.Name, id)
		v := s.rawValue(m, r, t.name, t.field)
		if rid, ok := v.(int64); ok && t.field.Type == Many2one {
			return s.displayName(t.field.Relation, rid)
		}
		if _, isList := v.([]int64); isList {
			return nil
		}
		return v
	}
	slices.SortStableFunc(ids, func(a, b int64) int {
		for _, t := range terms {
			va, vb := key(a, t), key(b, t)
			c := 0
			switch {
			case va == nil && vb == nil:
			case va == nil:
				c = 1
			case vb == nil:
				c = -1
			default:
				c, _ = compareValues(va, vb)
			}
			if t.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
}

// compareValues orders a stored value against another value or a domain
// value; ok is false when they cannot be compared (an empty value).
func compareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case time.Time:
		switch y := b.(type) {
		case time.Time:
			return x.Compare(y), true
		case string:
			t, ok := parseOdooTime(y)
			return x.Compare(t), ok
		}
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, y), true
		case float64:
			return cmp.Compare(float64(x), y), true
		case string:
			f, err := strconv.ParseFloat(y, 64)
			return cmp.Compare(float64(x), f), err == nil
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, float64(y)), true
		case float64:
			return cmp.Compare(x, y), true
		}
	case string:
		if _, isBool := b.(bool); isBool {
			return 0, false
		}
		return strings.Compare(x, fmt.Sprint(b)), true
	case bool:
		y := truthy(b)
		switch {
		case x == y:
			return 0, true
		case !x:
			return -1, true
		}
		return 1, true
	}
	return 0, false
}
