package odootest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Stored values: char, text, html, selection and date as string;
// integer int64; float and monetary float64; boolean bool; many2one the
// id as int64; many2many []int64; datetime time.Time (UTC, with
// microseconds, as PostgreSQL keeps it). An empty value is absent (nil).
// one2many is not stored: it is computed from its inverse many2one.

const (
	odooDatetime = "2006-01-02 15:04:05"
	odooDate     = "2006-01-02"
)

// coerce converts a value sent over RPC into its stored form for f, or
// raises what Odoo raises for a value of the wrong kind.
func (s *store) coerce(m *Model, name string, f Field, v any) (any, *odooError) {
	if b, ok := v.(bool); ok && !b && f.Type != Boolean {
		return nil, nil // false is "empty" for every type
	}
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case Char, Text, HTML:
		if str, ok := v.(string); ok {
			return emptyToNil(str), nil
		}
		return fmt.Sprint(v), nil
	case Selection:
		str := fmt.Sprint(v)
		if !slices.Contains(f.Values, str) {
			return nil, &odooError{class: clsValue, raise: "raise ValueError(\"Wrong value for %s: %r\" % (self, value))",
				message: fmt.Sprintf("Wrong value for %s.%s: %s", m.Name, name, pyRepr(v))}
		}
		return str, nil
	case Integer:
		return coerceInt(v)
	case Float, Monetary:
		return coerceFloat(v)
	case Boolean:
		return truthy(v), nil
	case Date, Datetime:
		return coerceTime(f.Type, v)
	case Many2one:
		return s.coerceMany2one(f, v)
	case Many2many:
		return coerceCommands(nil, v)
	}
	return nil, &odooError{class: "NotImplementedError", message: fmt.Sprintf("the fake cannot write %s fields (%s.%s)", f.Type, m.Name, name)}
}

func emptyToNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func coerceInt(v any) (any, *odooError) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		return int64(x), nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return nil, valueError("invalid literal for int() with base 10: %s", pyRepr(x))
		}
		return n, nil
	}
	return nil, &odooError{class: "TypeError", message: fmt.Sprintf("int() argument must be a string, a bytes-like object or a real number, not '%T'", v)}
}

func coerceFloat(v any) (any, *odooError) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return nil, valueError("could not convert string to float: %s", pyRepr(x))
		}
		return f, nil
	}
	return nil, &odooError{class: "TypeError", message: fmt.Sprintf("float() argument must be a string or a real number, not '%T'", v)}
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	}
	return v != nil
}

func coerceTime(t FieldType, v any) (any, *odooError) {
	str, ok := v.(string)
	if !ok {
		return nil, valueError("%s is not a valid %s", pyRepr(v), t)
	}
	if t == Date {
		if _, err := time.Parse(odooDate, str); err != nil {
			return nil, valueError("time data %s does not match format '%%Y-%%m-%%d'", pyRepr(str))
		}
		return str, nil
	}
	tm, ok := parseOdooTime(str)
	if !ok {
		return nil, valueError("time data %s does not match format '%%Y-%%m-%%d %%H:%%M:%%S'", pyRepr(str))
	}
	return tm, nil
}

func parseOdooTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999", odooDate} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (s *store) coerceMany2one(f Field, v any) (any, *odooError) {
	id, ok := asID(v)
	if !ok {
		if l, isList := v.([]any); isList && len(l) > 0 {
			id, ok = asID(l[0])
		}
	}
	if !ok {
		return nil, valueError("Wrong value for %s: %s", f.Relation, pyRepr(v))
	}
	if _, exists := s.row(f.Relation, id); !exists {
		return nil, validationError(fmt.Sprintf("The operation cannot be completed: another model requires the record being deleted. "+
			"If possible, archive it instead.\n\nModel: %s (%s)\nConstraint: %s_fkey\n", f.Relation, f.Relation, strings.ReplaceAll(f.Relation, ".", "_")))
	}
	return id, nil
}

func asID(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		return int64(x), x == float64(int64(x))
	}
	return 0, false
}

// coerceCommands applies x2many commands to current: a plain list of ids
// (set), or [6, 0, ids], [4, id], [3, id], [5] as Odoo's Command does.
func coerceCommands(current []int64, v any) (any, *odooError) {
	list, ok := v.([]any)
	if !ok {
		return nil, valueError("Wrong value for a x2many field: %s", pyRepr(v))
	}
	if ids, plain := idList(list); plain {
		return ids, nil
	}
	ids := slices.Clone(current)
	for _, c := range list {
		cmd, ok := c.([]any)
		if !ok || len(cmd) == 0 {
			return nil, valueError("Invalid command %s", pyRepr(c))
		}
		op, _ := asID(cmd[0])
		arg := func(i int) any {
			if i < len(cmd) {
				return cmd[i]
			}
			return nil
		}
		switch op {
		case 6:
			l, _ := arg(2).([]any)
			ids, _ = idList(l)
		case 5:
			ids = nil
		case 4:
			if id, ok := asID(arg(1)); ok && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		case 3:
			if id, ok := asID(arg(1)); ok {
				ids = slices.DeleteFunc(ids, func(x int64) bool { return x == id })
			}
		default:
			return nil, &odooError{class: "NotImplementedError", message: fmt.Sprintf("the fake does not run x2many command %d", op)}
		}
	}
	return ids, nil
}

func idList(l []any) ([]int64, bool) {
	ids := make([]int64, 0, len(l))
	for _, e := range l {
		id, ok := asID(e)
		if !ok {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}
