package odootest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// cond is a compiled domain: does the record match?
type cond func(r row) bool

var domainOperators = map[string]bool{
	"=": true, "!=": true, "<>": true, ">": true, ">=": true, "<": true, "<=": true,
	"in": true, "not in": true, "like": true, "ilike": true, "=like": true, "=ilike": true,
	"not like": true, "not ilike": true,
}

// negated operators match when their positive form does not, as Odoo's
// != and "not in" also match empty values.
var negated = map[string]string{"!=": "=", "<>": "=", "not in": "in", "not like": "like", "not ilike": "ilike"}

type domainParser struct {
	s   *store
	m   *Model
	d   []any
	pos int
}

// compileDomain compiles an Odoo domain: leaves [field, op, value] in
// Polish notation with "&", "|" and "!", consecutive terms joined by "&".
func (s *store) compileDomain(m *Model, d []any) (cond, *odooError) {
	p := &domainParser{s: s, m: m, d: d}
	var terms []cond
	for p.pos < len(d) {
		c, err := p.expr()
		if err != nil {
			return nil, err
		}
		terms = append(terms, c)
	}
	return func(r row) bool {
		for _, t := range terms {
			if !t(r) {
				return false
			}
		}
		return true
	}, nil
}

func (p *domainParser) expr() (cond, *odooError) {
	if p.pos >= len(p.d) {
		return nil, valueError("Domain %s is syntactically not correct.", pyRepr(p.d))
	}
	tok := p.d[p.pos]
	p.pos++
	if op, ok := tok.(string); ok {
		if op != "&" && op != "|" && op != "!" {
			return nil, valueError("Invalid domain operator %s", pyRepr(op))
		}
		a, err := p.expr()
		if err != nil {
			return nil, err
		}
		if op == "!" {
			return func(r row) bool { return !a(r) }, nil
		}
		b, err := p.expr()
		if err != nil {
			return nil, err
		}
		if op == "&" {
			return func(r row) bool { return a(r) && b(r) }, nil
		}
		return func(r row) bool { return a(r) || b(r) }, nil
	}
	leaf, ok := tok.([]any)
	if !ok || len(leaf) != 3 {
		return nil, valueError("Invalid leaf %s", pyRepr(tok))
	}
	return p.leaf(leaf)
}

func (p *domainParser) leaf(leaf []any) (cond, *odooError) {
	cond := "(" + strings.TrimSuffix(strings.TrimPrefix(pyRepr(leaf), "["), "]") + ")"
	if n, ok := asID(leaf[0]); ok { // TRUE_LEAF (1, '=', 1) and FALSE_LEAF (0, '=', 1)
		return func(row) bool { return n == 1 }, nil
	}
	path, _ := leaf[0].(string)
	op, _ := leaf[1].(string)
	op = strings.ToLower(op)
	if !domainOperators[op] {
		return nil, valueError("Invalid operator %s in condition %s", pyRepr(leaf[1]), cond)
	}
	fields, err := p.s.resolvePath(p.m, path)
	if err != nil {
		return nil, valueError("Invalid field %s.%s in condition %s", p.m.Name, path, cond)
	}
	positive, neg := op, false
	if pos, ok := negated[op]; ok {
		positive, neg = pos, true
	}
	match, mErr := p.s.matcher(fields[len(fields)-1], positive, leaf[2])
	if mErr != nil {
		return nil, mErr
	}
	return func(r row) bool {
		any := slices.ContainsFunc(p.s.pathValues(p.m, r, path, fields), match)
		return any != neg
	}, nil
}

// pathField is one step of a dotted path.
type pathField struct {
	name  string
	field Field
	model *Model
}

func (s *store) resolvePath(m *Model, path string) ([]pathField, error) {
	var out []pathField
	for i, name := range strings.Split(path, ".") {
		f, ok := m.field(name)
		if !ok {
			return nil, fmt.Errorf("no field %s", name)
		}
		out = append(out, pathField{name, f, m})
		if i < strings.Count(path, ".") {
			if !f.relational() || s.models[f.Relation] == nil {
				return nil, fmt.Errorf("%s is not relational", name)
			}
			m = s.models[f.Relation]
		}
	}
	return out, nil
}

// pathValues are the stored values a path reaches from r: one for a plain
// field, one per related record through a x2many.
func (s *store) pathValues(m *Model, r row, path string, fields []pathField) []any {
	pf := fields[0]
	v := s.rawValue(m, r, pf.name, pf.field)
	if len(fields) == 1 {
		return []any{v}
	}
	var ids []int64
	switch x := v.(type) {
	case int64:
		ids = []int64{x}
	case []int64:
		ids = x
	case nil:
		return []any{nil}
	}
	rest := path[strings.IndexByte(path, '.')+1:]
	rel := s.models[pf.field.Relation]
	var out []any
	for _, id := range ids {
		if rr, ok := s.row(rel.Name, id); ok {
			out = append(out, s.pathValues(rel, rr, rest, fields[1:])...)
		}
	}
	return out
}

// rawValue is a stored value, with the computed fields filled in.
func (s *store) rawValue(m *Model, r row, name string, f Field) any {
	switch {
	case name == "display_name":
		return s.displayName(m.Name, r["id"].(int64))
	case f.Type == One2many:
		return s.one2many(f, r["id"].(int64))
	}
	return r[name]
}

// matcher compiles the positive form of one leaf for field pf.
func (s *store) matcher(pf pathField, op string, want any) (func(v any) bool, *odooError) {
	f := pf.field
	switch op {
	case "=":
		return func(v any) bool { return s.equal(f, numericZero(f, v), want) }, nil
	case "in":
		list, ok := want.([]any)
		if !ok {
			list = []any{want}
		}
		if set := scalarSet(f, list); set != nil {
			// A search by key for a whole batch (thousands of values) costs
			// what an index lookup does, as in PostgreSQL, not rows × values.
			return func(v any) bool {
				v = numericZero(f, v)
				switch v.(type) {
				case string, int64:
					return set[v]
				}
				return slices.ContainsFunc(list, func(w any) bool { return s.equal(f, v, w) })
			}, nil
		}
		return func(v any) bool {
			return slices.ContainsFunc(list, func(w any) bool { return s.equal(f, numericZero(f, v), w) })
		}, nil
	case "like", "ilike", "=like", "=ilike":
		re := likePattern(fmt.Sprint(want), op)
		return func(v any) bool { return v != nil && re.MatchString(s.text(f, v)) }, nil
	}
	return func(v any) bool {
		c, ok := compareValues(numericZero(f, v), want)
		switch op {
		case ">":
			return ok && c > 0
		case ">=":
			return ok && c >= 0
		case "<":
			return ok && c < 0
		}
		return ok && c <= 0
	}, nil
}

// numericZero reads an empty number as 0, as Odoo 18+ compares it (its
// falsy value), so ("x", "<", 5) matches records where x is not set.
func numericZero(f Field, v any) any {
	if v != nil {
		return v
	}
	switch f.Type {
	case Integer:
		return int64(0)
	case Float, Monetary:
		return 0.0
	}
	return nil
}

// equal is the "=" of one stored value against a domain value.
// scalarSet is the values of an "in" list as a set when a plain
// comparison decides them (every value a string for a text field, an
// integer for an integer field), else nil.
func scalarSet(f Field, list []any) map[any]bool {
	if len(list) < 8 || (f.Type != Char && f.Type != Integer) {
		return nil
	}
	set := make(map[any]bool, len(list))
	for _, w := range list {
		switch w.(type) {
		case string:
			if f.Type != Char {
				return nil
			}
		case int64:
			if f.Type != Integer {
				return nil
			}
		default:
			return nil
		}
		set[w] = true
	}
	return set
}

func (s *store) equal(f Field, v, want any) bool {
	if b, ok := want.(bool); ok && f.Type != Boolean {
		if ids, isList := v.([]int64); isList {
			return (len(ids) == 0) != b
		}
		return (v == nil || v == int64(0) && f.Type == Integer) != b
	}
	switch f.Type {
	case Boolean:
		return truthy(v) == truthy(want)
	case Many2many, One2many:
		id, _ := asID(want)
		ids, _ := v.([]int64)
		return slices.Contains(ids, id)
	case Many2one:
		if name, ok := want.(string); ok {
			return v != nil && s.displayName(f.Relation, v.(int64)) == name
		}
	}
	c, ok := compareValues(v, want)
	return ok && c == 0
}

// text is what like operators see: a many2one's display name, a
// datetime as Odoo writes it, else the value.
func (s *store) text(f Field, v any) string {
	switch x := v.(type) {
	case int64:
		if f.Type == Many2one {
			return s.displayName(f.Relation, x)
		}
	case time.Time:
		return x.Format(odooDatetime)
	}
	return fmt.Sprint(v)
}

// likePattern compiles a SQL LIKE pattern (% and _); like and ilike match
// anywhere, =like and =ilike match the pattern as given.
func likePattern(pattern, op string) *regexp.Regexp {
	if op == "like" || op == "ilike" {
		pattern = "%" + pattern + "%"
	}
	var b strings.Builder
	b.WriteString("(?s)")
	if strings.HasSuffix(op, "ilike") {
		b.WriteString("(?i)")
	}
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
