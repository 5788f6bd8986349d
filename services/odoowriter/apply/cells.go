package apply

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/insightpulse/pulsehub/events"
)

// row is one plan's values as load takes them: columns ("name",
// "partner_id/.id") to CSV-like text, and the values load cannot express
// (x2many commands, objects), written after the load.
type row struct {
	cells map[string]string
	after map[string]any
}

// toRow converts values for load by the field types: load reads every
// cell as an import reads CSV text, so numbers, booleans and ids are
// written as text, a many2one id goes to the "<field>/.id" column (a
// database id), a list of ids to "<field>/.id" comma-separated. An
// unknown field, or a value the field cannot take, is a permanent error.
func toRow(model string, fields map[string]fieldInfo, vals map[string]any) (row, error) {
	r := row{cells: make(map[string]string, len(vals))}
	for name, v := range vals {
		f, ok := fields[name]
		if !ok {
			return row{}, events.Permanent(&unknownField{model: model, field: name})
		}
		col, text, ok, err := cell(name, f, v)
		if err != nil {
			return row{}, err
		}
		if !ok {
			if r.after == nil {
				r.after = map[string]any{}
			}
			r.after[name] = v
			continue
		}
		r.cells[col] = text
	}
	return r, nil
}

// unknownField is a value for a field the model does not have (as far as
// fields_get said).
type unknownField struct{ model, field string }

func (e *unknownField) Error() string { return fmt.Sprintf("%s has no field %q", e.model, e.field) }

// cell converts one value; ok is false for a value load cannot take.
func cell(name string, f fieldInfo, v any) (col, text string, ok bool, err error) {
	if v == nil || v == false {
		// An empty cell is false, whatever the type; relational fields keep
		// the column of their ids, so that rows stay in one load.
		if f.Type == "many2one" || f.Type == "many2many" || f.Type == "one2many" {
			name += "/.id"
		}
		return name, "", true, nil
	}
	switch f.Type {
	case "many2one":
		id, isID := recordID(v)
		if !isID {
			return "", "", false, events.Permanentf("field %s is a many2one to %s: give a record id, or a lookup, not %s", name, f.Relation, show(v))
		}
		return name + "/.id", strconv.FormatInt(id, 10), true, nil
	case "many2many", "one2many":
		ids, isIDs := idList(v)
		if !isIDs {
			return "", "", false, nil // commands: written after the load
		}
		return name + "/.id", ids, true, nil
	case "boolean":
		if b, isBool := v.(bool); isBool && b {
			return name, "1", true, nil
		}
	}
	switch x := v.(type) {
	case string:
		return name, x, true, nil
	case bool:
		return name, "1", true, nil
	case int:
		return name, strconv.Itoa(x), true, nil
	case int64:
		return name, strconv.FormatInt(x, 10), true, nil
	case float64:
		return name, strconv.FormatFloat(x, 'f', -1, 64), true, nil
	}
	return "", "", false, nil // an object or a list for a plain field: create's own error, after the load
}

// recordID reads a record id: an integer, an integral float, or a
// many2one pair [id, "name"].
func recordID(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), x > 0
	case int64:
		return x, x > 0
	case float64:
		return int64(x), x > 0 && x == math.Trunc(x)
	case []any:
		if len(x) == 2 {
			if _, named := x[1].(string); named {
				return recordID(x[0])
			}
		}
	}
	return 0, false
}

// idList reads a plain list of record ids as load's comma-separated text.
func idList(v any) (string, bool) {
	list, ok := v.([]any)
	if !ok {
		return "", false
	}
	parts := make([]string, len(list))
	for i, e := range list {
		id, isID := recordID(e)
		if !isID {
			return "", false
		}
		if _, pair := e.([]any); pair {
			return "", false
		}
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ","), true
}

func show(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
