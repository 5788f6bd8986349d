package route

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
)

// Ops an Odoo route can do.
const (
	OpCreate = "create" // a new record per event, made idempotent by the event's id as external id
	OpWrite  = "write"  // update the record(s) whose id the `id` expression gives
	OpUpsert = "upsert" // search by key; write if found, create otherwise
	OpUnlink = "unlink" // delete the record(s) whose id the `id` expression gives
)

// What a lookup does when no record matches (Lookup.Missing).
const (
	MissingFail  = "fail"  // the event fails permanently and is dead-lettered with the value searched for (default)
	MissingEmpty = "empty" // the field is written empty (false)
)

// DefaultInstance is the Odoo instance a route writes to when it names none.
const DefaultInstance = "default"

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

// InstanceName is the target's Odoo instance, DefaultInstance when unset.
func (t *OdooTarget) InstanceName() string {
	if t.Instance == "" {
		return DefaultInstance
	}
	return t.Instance
}

// Key identifies the record an upsert updates.
type Key struct {
	Field string `yaml:"field"` // a field of the model, e.g. x_github_issue_id
	Value string `yaml:"value"` // jq, e.g. .issue.id
}

// Lookup gives a many2one field by searching the related model.
type Lookup struct {
	Model   string `yaml:"model"`   // the related model, e.g. res.partner
	Field   string `yaml:"field"`   // the field searched, e.g. email
	Value   string `yaml:"value"`   // jq giving the value searched for; null or false writes the field empty without a search
	Missing string `yaml:"missing"` // no record matches: fail (default: the event is dead-lettered) or empty (the field is written empty)
}

var (
	fieldPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks the target and compiles its expressions.
func (t *OdooTarget) Validate(path string) config.Problems {
	var ps config.Problems
	if !events.IsOdooModel(t.Model) {
		ps.Add(path+".model", "%q is not an Odoo model name (like project.task, at most %d bytes)", t.Model, events.MaxNameLen)
	}
	if t.Instance != "" && !events.IsName(t.Instance) {
		ps.Add(path+".instance", "%q: instance names are 1-%d letters, digits, '-' or '_'", t.Instance, events.MaxNameLen)
	}
	expr := func(p, src string) {
		if _, err := Compile(src); err != nil {
			ps.Add(p, "%v", err)
		}
	}
	hasValues := len(t.Values) > 0 || len(t.Lookups) > 0
	switch t.Op {
	case OpCreate, OpUpsert:
		if !hasValues {
			ps.Add(path+".values", "op %s needs values", t.Op)
		}
		if t.ID != "" {
			ps.Add(path+".id", "op %s finds no record by id (write and unlink do)", t.Op)
		}
		if t.Op == OpUpsert {
			ps = append(ps, t.validateKey(path+".key")...)
		}
	case OpWrite, OpUnlink:
		if t.ID == "" {
			ps.Add(path+".id", "op %s needs id: a jq expression giving the record id", t.Op)
		} else {
			expr(path+".id", t.ID)
		}
		if t.Op == OpWrite && !hasValues {
			ps.Add(path+".values", "op write needs values")
		}
		if t.Op == OpUnlink && hasValues {
			ps.Add(path+".values", "op unlink writes no values")
		}
	default:
		ps.Add(path+".op", "%q: want create, write, upsert or unlink", t.Op)
	}
	if t.Key != nil && t.Op != OpUpsert && t.Op != "" {
		ps.Add(path+".key", "only op upsert finds its record by key")
	}
	for _, f := range sortedKeys(t.Values) {
		p := fmt.Sprintf("%s.values.%s", path, f)
		checkField(&ps, p, f)
		expr(p, t.Values[f])
	}
	for _, f := range sortedKeys(t.Lookups) {
		l, p := t.Lookups[f], fmt.Sprintf("%s.lookups.%s", path, f)
		checkField(&ps, p, f)
		if _, dup := t.Values[f]; dup {
			ps.Add(p, "field %s is given by values too; give it once", f)
		}
		if !events.IsOdooModel(l.Model) || !fieldPattern.MatchString(l.Field) {
			ps.Add(p, "a lookup needs model and field")
		}
		if l.Missing != "" && l.Missing != MissingFail && l.Missing != MissingEmpty {
			ps.Add(p+".missing", "%q: want fail or empty", l.Missing)
		}
		expr(p+".value", l.Value)
	}
	return ps
}

func (t *OdooTarget) validateKey(path string) config.Problems {
	var ps config.Problems
	if t.Key == nil || t.Key.Field == "" || t.Key.Value == "" {
		ps.Add(path, "op upsert needs key: {field, value}")
		return ps
	}
	checkField(&ps, path+".field", t.Key.Field)
	if _, err := Compile(t.Key.Value); err != nil {
		ps.Add(path+".value", "%v", err)
	}
	return ps
}

// checkField refuses what Odoo would not take as a field to write: "id"
// (the record's own) and names that are not identifiers.
func checkField(ps *config.Problems, path, name string) {
	switch {
	case name == "id":
		ps.Add(path, "id is the record's own id and cannot be written")
	case !fieldPattern.MatchString(name):
		ps.Add(path, "%q is not an Odoo field name", name)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
