package odoo

import (
	"encoding/json"
	"strings"
	"time"
)

// DatetimeLayout is how Odoo writes a datetime (UTC) over RPC.
const DatetimeLayout = "2006-01-02 15:04:05"

// DateLayout is how Odoo writes a date.
const DateLayout = "2006-01-02"

// outgoing prepares an argument for either encoder: time.Time becomes an
// Odoo UTC datetime string and nil becomes false (XML-RPC has no nil, and
// Odoo reads false as "empty" for every field type).
func outgoing(v any) any {
	switch x := v.(type) {
	case nil:
		return false
	case time.Time:
		return x.UTC().Format(DatetimeLayout)
	case *time.Time:
		if x == nil {
			return false
		}
		return x.UTC().Format(DatetimeLayout)
	case Record:
		return outgoingMap(x)
	case map[string]any:
		return outgoingMap(x)
	case []map[string]any:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = outgoingMap(m)
		}
		return out
	case []Record:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = outgoingMap(m)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = outgoing(e)
		}
		return out
	}
	return v
}

func outgoingMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = outgoing(v)
	}
	return out
}

// fromXMLRPC normalizes what kolo/xmlrpc decoded. kolo leaves an empty
// <string></string> as nil, and Odoo never sends a nil, so nil is "".
func fromXMLRPC(v any) any {
	switch x := v.(type) {
	case nil:
		return ""
	case int:
		return int64(x)
	case []any:
		for i, e := range x {
			x[i] = fromXMLRPC(e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = fromXMLRPC(e)
		}
		return x
	case time.Time:
		return x.UTC().Format(DatetimeLayout)
	}
	return v
}

// fromJSON normalizes a value decoded with UseNumber: a number written
// without a fraction or exponent is int64, any other float64 (so 10.0, a
// Python float, stays a float as it would over XML-RPC); null is false.
func fromJSON(v any) any {
	switch x := v.(type) {
	case nil:
		return false
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if n, err := x.Int64(); err == nil {
				return n
			}
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i, e := range x {
			x[i] = fromJSON(e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = fromJSON(e)
		}
		return x
	}
	return v
}

// toInt64 reads an integer Odoo sent as int64 or an integral float64.
func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	}
	return 0, false
}

// toIDs reads a list of ids ([]any of integers); false is an empty list.
func toIDs(v any) ([]int64, bool) {
	switch x := v.(type) {
	case bool:
		return nil, !x
	case []int64:
		return x, true
	case []any:
		ids := make([]int64, 0, len(x))
		for _, e := range x {
			id, ok := toInt64(e)
			if !ok {
				return nil, false
			}
			ids = append(ids, id)
		}
		return ids, true
	}
	return nil, false
}

func idsToAny(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
