package apply

import (
	"strings"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/odoo"
)

// loadResult is what Odoo's load answers: the ids (false when it rolled
// the import back) and its messages.
type loadResult struct {
	ids      []int64
	rolled   bool
	messages []loadMessage
}

type loadMessage struct {
	typ     string
	message string
	record  int // the 0-based row, -1 when Odoo named none
}

// parseLoad reads load's answer {"ids": [...] | false, "messages": [...]}.
func parseLoad(model string, v any) (loadResult, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return loadResult{}, events.Permanentf("%s.load answered a %T", model, v)
	}
	var res loadResult
	switch ids := m["ids"].(type) {
	case bool:
		res.rolled = !ids
	case []any:
		for _, e := range ids {
			id, isID := recordID(e)
			if !isID {
				return loadResult{}, events.Permanentf("%s.load answered id %v", model, e)
			}
			res.ids = append(res.ids, id)
		}
	}
	list, _ := m["messages"].([]any)
	for _, e := range list {
		msg, _ := e.(map[string]any)
		r := odoo.Record(msg)
		lm := loadMessage{typ: r.String("type"), message: r.String("message"), record: -1}
		if _, has := msg["record"]; has {
			lm.record = int(r.Int("record"))
		}
		res.messages = append(res.messages, lm)
	}
	return res, nil
}

func (r loadResult) failed() bool {
	if r.rolled {
		return true
	}
	for _, m := range r.messages {
		if m.typ == "error" {
			return true
		}
	}
	return false
}

// rowErrors maps each row Odoo named in an error to that error, nil when
// some error names no row.
func (r loadResult) rowErrors(model string) map[int]error {
	out := map[int]error{}
	for _, m := range r.messages {
		if m.typ != "error" {
			continue
		}
		if m.record < 0 {
			return nil
		}
		if out[m.record] == nil {
			out[m.record] = rowError(model, m.message)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// first is the load's first error, for the rows it did not name.
func (r loadResult) first(model string) error {
	for _, m := range r.messages {
		if m.typ == "error" {
			return rowError(model, m.message)
		}
	}
	return rowError(model, "load rolled back without a message")
}

// rowError is the fault of one row. load reports every failure as a
// message, PostgreSQL concurrency errors too (its savepoints catch them),
// so those are told apart by their text and retried.
func rowError(model, message string) error {
	f := &odoo.Fault{Name: "odoo.load", Model: model, Method: "load", Message: message}
	for _, t := range transientLoadMessages {
		if strings.Contains(message, t) {
			return events.Transient(f)
		}
	}
	return f
}

// transientLoadMessages are PostgreSQL's words for a concurrency or
// availability problem, as load passes them on.
var transientLoadMessages = []string{
	"could not serialize access",
	"deadlock detected",
	"could not obtain lock",
	"canceling statement due to lock timeout",
	"Unknown database error",
	"The Connection Pool Is Full",
}
