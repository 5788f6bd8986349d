package route

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/insightpulse/pulsehub/events/config"
)

// Ops an Odoo route can do.
const (
	OpCreate = "create" // a new record per event, made idempotent by the event's id as external id
	OpWrite  = "write"  // update the record(s) whose id the `id` expression gives
	OpUpsert = "upsert" // search by key; write if found, create otherwise
	OpUnlink = "unlink" // delete the record(s) whose id the `id` expression gives
)

// OdooTarget writes an event into Odoo.
type OdooTarget struct {
	Instance string            `yaml:"instance"` // which entry of the odoo: section; default "default"
	Model    string            `yaml:"model"`    // e.g. project.task
	Op       string            `yaml:"op"`       // create, write, upsert or unlink
	Key      *Key              `yaml:"key"`      // upsert: the field that identifies a record and its jq value
	ID       string            `yaml:"id"`       // write, unlink: jq giving the record id (or a list of ids)
	Values   map[string]string `yaml:"values"`   // field → jq expression
	Lookups  map[string]Lookup `yaml:"lookups"`  // many2one fields given by a search on the related model
	Context  map[string]any    `yaml:"context"`  // Odoo context for the call (lang, tz, tracking_disable, ...)
}

// Key identifies the record an upsert updates.
type Key struct {
	Field string `yaml:"field"` // a field of the model, e.g. x_github_issue_id
	Value string `yaml:"value"` // jq, e.g. .issue.id
}

// Lookup gives a many2one field by searching the related model.
type Lookup struct {
	Model string `yaml:"model"` // the related model, e.g. res.partner
	Field string `yaml:"field"` // the field searched, e.g. email
	Value string `yaml:"value"` // jq giving the value searched for
}

var modelPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// Validate checks the target and compiles its expressions.
func (t *OdooTarget) Validate(path string) config.Problems {
	var ps config.Problems
	if !modelPattern.MatchString(t.Model) {
		ps.Add(path+".model", "%q is not an Odoo model name (like project.task)", t.Model)
	}
	expr := func(p, src string) {
		if _, err := Compile(src); err != nil {
			ps.Add(p, "%v", err)
		}
	}
	switch t.Op {
	case OpCreate, OpUpsert:
		if len(t.Values) == 0 {
			ps.Add(path+".values", "op %s needs values", t.Op)
		}
		if t.Op == OpUpsert && (t.Key == nil || t.Key.Field == "" || t.Key.Value == "") {
			ps.Add(path+".key", "op upsert needs key: {field, value}")
		} else if t.Op == OpUpsert {
			expr(path+".key.value", t.Key.Value)
		}
	case OpWrite, OpUnlink:
		if t.ID == "" {
			ps.Add(path+".id", "op %s needs id: a jq expression giving the record id", t.Op)
		} else {
			expr(path+".id", t.ID)
		}
		if t.Op == OpWrite && len(t.Values) == 0 && len(t.Lookups) == 0 {
			ps.Add(path+".values", "op write needs values")
		}
	default:
		ps.Add(path+".op", "%q: want create, write, upsert or unlink", t.Op)
	}
	for _, f := range sortedKeys(t.Values) {
		expr(fmt.Sprintf("%s.values.%s", path, f), t.Values[f])
	}
	for _, f := range sortedKeys(t.Lookups) {
		l, p := t.Lookups[f], fmt.Sprintf("%s.lookups.%s", path, f)
		if !modelPattern.MatchString(l.Model) || l.Field == "" {
			ps.Add(p, "a lookup needs model and field")
		}
		expr(p+".value", l.Value)
	}
	return ps
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
