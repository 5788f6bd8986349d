package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/insightpulse/pulsehub/events"
)

// Canon is the comparable form of a key or lookup value, the same for
// what an event gives and what Odoo answers: numbers in decimal (1 and
// 1.0 alike), strings as they are, a many2one pair [id, "name"] as its id.
// ok is false for an empty value (nil, false, "") or one that cannot be a
// key (a list, an object).
func Canon(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		if !x {
			return "", false
		}
		return "true", true
	case []any:
		if len(x) == 2 {
			if _, isName := x[1].(string); isName {
				return Canon(x[0])
			}
		}
	}
	return "", false
}

// IDs reads record ids as an expression or a command gives them: one id,
// or a list of ids (integers, integral floats or decimal strings, each at
// least 1). Anything else is a permanent error.
func IDs(v any) ([]int64, error) {
	if list, ok := v.([]any); ok {
		if len(list) == 0 {
			return nil, events.Permanentf("id: an empty list names no record")
		}
		out := make([]int64, 0, len(list))
		for _, e := range list {
			id, err := oneID(e)
			if err != nil {
				return nil, err
			}
			out = append(out, id)
		}
		return out, nil
	}
	id, err := oneID(v)
	if err != nil {
		return nil, err
	}
	return []int64{id}, nil
}

func oneID(v any) (int64, error) {
	var id int64
	switch x := v.(type) {
	case int:
		id = int64(x)
	case int64:
		id = x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			id = int64(x)
		}
	case string:
		id, _ = strconv.ParseInt(x, 10, 64)
	case nil:
		return 0, events.Permanentf("id is null: the event names no record")
	}
	if id < 1 {
		return 0, events.Permanentf("id %s is not a record id (an integer of at least 1)", show(v))
	}
	return id, nil
}

// normalize makes a jq result something both Odoo encoders take: a number
// too large for an int (gojq's *big.Int) is a permanent error, since Odoo
// cannot store it either.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case *big.Int:
		return nil, events.Permanentf("number %s is too large for Odoo", x.String())
	case []any:
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	case map[string]any:
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	}
	return v, nil
}

// show prints a value for an error message as JSON, shortened.
func show(v any) string {
	b, err := json.Marshal(v)
	s := string(b)
	if err != nil {
		s = fmt.Sprintf("%v", v)
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
