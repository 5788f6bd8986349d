package odoo

import (
	"strconv"
	"time"
)

// Record is one record as read, search_read or a webhook body give it:
// field name to normalized value. Its accessors cope with what Odoo really
// sends: false for every empty value, [id, "name"] for a many2one (a bare
// id in webhook bodies), datetime strings in UTC.
type Record map[string]any

// ID is the record's id, 0 when absent.
func (r Record) ID() int64 { return r.Int("id") }

// Int reads an integer field; false, absent or non-integral values are 0.
// A many2one gives its id.
func (r Record) Int(field string) int64 {
	if n, ok := toInt64(r[field]); ok {
		return n
	}
	if id, _, ok := r.Many2One(field); ok {
		return id
	}
	if s, ok := r[field].(string); ok {
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	return 0
}

// String reads a char, text, selection, date or datetime field; false is "".
func (r Record) String(field string) string {
	switch x := r[field].(type) {
	case string:
		return x
	case []any:
		if _, name, ok := r.Many2One(field); ok {
			return name
		}
	}
	return ""
}

// Float reads a float or monetary field (an integer is converted); false is 0.
func (r Record) Float(field string) float64 {
	switch x := r[field].(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case int:
		return float64(x)
	}
	return 0
}

// Bool reads a boolean field; anything but true is false.
func (r Record) Bool(field string) bool {
	b, _ := r[field].(bool)
	return b
}

// Many2One reads a many2one: [id, "display name"] from read/search_read,
// a bare id from webhook bodies and load=None reads. ok is false when the
// field is empty (false) or absent.
func (r Record) Many2One(field string) (id int64, name string, ok bool) {
	switch x := r[field].(type) {
	case []any:
		if len(x) == 0 {
			return 0, "", false
		}
		id, ok = toInt64(x[0])
		if !ok || id == 0 {
			return 0, "", false
		}
		if len(x) > 1 {
			name, _ = x[1].(string)
		}
		return id, name, true
	default:
		id, ok = toInt64(x)
		return id, "", ok && id != 0
	}
}

// IDs reads a one2many or many2many field (a list of ids); false or absent
// is nil. A many2one gives its one id.
func (r Record) IDs(field string) []int64 {
	if ids, ok := toIDs(r[field]); ok {
		return ids
	}
	if id, _, ok := r.Many2One(field); ok {
		return []int64{id}
	}
	return nil
}

// Time reads a datetime ("2006-01-02 15:04:05", optionally with
// microseconds as webhook bodies send them) or a date, in UTC. ok is false
// when the field is empty or not a date.
func (r Record) Time(field string) (time.Time, bool) {
	s, ok := r[field].(string)
	if !ok || s == "" {
		return time.Time{}, false
	}
	return ParseTime(s)
}

// ParseTime parses an Odoo datetime or date string as UTC.
func ParseTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", DateLayout, time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// FormatTime writes t as an Odoo datetime string (UTC, seconds).
func FormatTime(t time.Time) string { return t.UTC().Format(DatetimeLayout) }
