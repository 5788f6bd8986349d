package plan

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/schemas"
)

// CommandRoute is the name of the built-in route that runs
// odoo.cmd.<model>.<op> commands (stream ODOO_CMD), and of its consumer.
const CommandRoute = "odoo-cmd"

// CommandSchema is the schema (package schemas) a command body follows.
const CommandSchema = "odoo-cmd"

var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// FromCommand reads an Odoo write command: the body is checked against
// the odoo-cmd schema, and its model and op must be the subject's
// (odoo.cmd.<model token>.<op>), so that a filter on the subject sees
// what is written. instance is the writer's default instance. Every error
// is permanent.
func FromCommand(subject, contentType string, body []byte, eventID string, seq uint64, instance string) (*Plan, error) {
	if err := schemas.Validate(CommandSchema, body); err != nil {
		return nil, events.Permanent(err)
	}
	doc, err := route.DecodeBody(contentType, body)
	if err != nil {
		return nil, err
	}
	cmd, _ := doc.(map[string]any) // the schema made sure it is an object
	op, _ := cmd["op"].(string)
	model, _ := cmd["model"].(string)
	modelToken, subjectOp, err := events.ParseOdooCmdSubject(subject)
	if err != nil {
		return nil, events.Permanent(err)
	}
	if events.Token(model) != modelToken {
		return nil, events.Permanentf("the body's model %q is not the subject's %q (%s)", model, modelToken, subject)
	}
	if op != subjectOp {
		return nil, events.Permanentf("the body's op %q is not the subject's %q (%s)", op, subjectOp, subject)
	}
	p := &Plan{Route: CommandRoute, Instance: instance, Model: model, Op: op, Seq: seq}
	p.Values, _ = cmd["values"].(map[string]any)
	p.Context, _ = cmd["context"].(map[string]any)
	if err := checkFields(p.Values); err != nil {
		return nil, err
	}
	switch op {
	case route.OpCreate:
		p.ExternalID = ExternalID(CommandRoute, eventID)
	case route.OpUpsert:
		k, _ := cmd["key"].(map[string]any)
		field, _ := k["field"].(string)
		if _, ok := Canon(k["value"]); !ok {
			return nil, events.Permanentf("key.value %s: an upsert needs a non-empty string, number or true", show(k["value"]))
		}
		p.Key = &Key{Field: field, Value: k["value"]}
	case route.OpWrite, route.OpUnlink:
		if p.IDs, err = IDs(cmd["id"]); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkFields refuses field names Odoo would not take: "id" and names
// that are not identifiers (a path, a load column such as "partner_id/id").
func checkFields(values map[string]any) error {
	var bad []string
	for f := range values {
		if f == "id" || !fieldName.MatchString(f) {
			bad = append(bad, fmt.Sprintf("%q", f))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return events.Permanent(errors.New("values: not fields that can be written: " + strings.Join(bad, ", ")))
}
