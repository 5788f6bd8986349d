package odoo

import (
	"context"
	"strings"
)

// LoadMessage is one message of Odoo's load: an error or a warning about
// a row (Record is the 0-based row) or a field.
type LoadMessage struct {
	Type    string // "error", "warning", "info"
	Message string
	Record  int64  // row index in the data, when Odoo gave one
	Field   string // the field, when Odoo gave one
}

// Load imports rows with Odoo's load(fields, data): the import machinery,
// which upserts by external id when fields holds "id" ("__import__.<name>"
// or "module.name"), resolves "<field>/id" columns to records by external
// id, and converts string values like a CSV import. It returns the ids, one
// per row. When Odoo reports an error it imports nothing (it rolls back);
// Load then returns the messages and a permanent *Fault naming the first
// error.
func (c *Client) Load(ctx context.Context, model string, fields []string, rows [][]any) (ids []int64, messages []LoadMessage, err error) {
	data := make([]any, len(rows))
	for i, r := range rows {
		data[i] = r
	}
	v, err := c.ExecuteKW(ctx, model, "load", []any{fields, data}, nil)
	if err != nil {
		return nil, nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, c.shape(model, "load", v)
	}
	messages = loadMessages(m["messages"])
	ids, idsOK := toIDs(m["ids"])
	if b, isBool := m["ids"].(bool); isBool && !b {
		idsOK = false // false means Odoo rolled the import back
	}
	if idsOK && !hasError(messages) {
		return ids, messages, nil
	}
	f := &Fault{Name: "odoo.load", Message: "load failed"}
	for _, msg := range messages {
		if msg.Type == "error" {
			f.Message = msg.Message
			break
		}
	}
	f.Detail = joinMessages(messages)
	return nil, messages, c.finish(f, model, "load")
}

func loadMessages(v any) []LoadMessage {
	list, _ := v.([]any)
	out := make([]LoadMessage, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		r := Record(m)
		out = append(out, LoadMessage{Type: r.String("type"), Message: r.String("message"), Record: r.Int("record"), Field: r.String("field")})
	}
	return out
}

func hasError(ms []LoadMessage) bool {
	for _, m := range ms {
		if m.Type == "error" {
			return true
		}
	}
	return false
}

func joinMessages(ms []LoadMessage) string {
	lines := make([]string, len(ms))
	for i, m := range ms {
		lines[i] = m.Type + ": " + m.Message
	}
	return strings.Join(lines, "\n")
}
