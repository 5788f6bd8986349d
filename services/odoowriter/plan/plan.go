// Package plan turns one event into one write in Odoo. A route's odoo:
// target is compiled once at start-up (Compile: jq for the key, the ids,
// the values and the lookups); an odoo.cmd.<model>.<op> command body is
// read as it comes (FromCommand). Either gives a Plan: the model, the op,
// what identifies the record (key, ids or external id), the values and
// the many2one lookups still to resolve. The batcher groups plans by
// BatchKey, keeps plans that touch the same record (Conflicts) out of
// concurrent calls, and the applier turns a group into Odoo calls.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/insightpulse/pulsehub/events/route"
)

// Plan is one event's write.
type Plan struct {
	Route       string                 // the route (or the built-in odoo-cmd) the event came through
	Instance    string                 // the Odoo instance, a key of the odoo: section
	Model       string                 // e.g. project.task
	Op          string                 // route.OpCreate, OpWrite, OpUpsert or OpUnlink
	Key         *Key                   // upsert: the record whose Field equals Value
	IDs         []int64                // write, unlink: the records
	ExternalID  string                 // create: "__pulsehub__.<name>", stable per route and event
	Values      map[string]any         // field → value, as Odoo's create and write take them
	Lookups     map[string]LookupValue // many2one field → the search that gives its id
	Context     map[string]any         // Odoo context for the calls; nil = none
	Seq         uint64                 // the message's stream sequence: later plans win inside a batch
	Backlog     uint64                 // messages still waiting for the route's consumer when this one was delivered (JetStream's pending count): the batcher lingers only while more are coming
	Delivery    Delivery               // which delivery of which consumer the message was: the batcher waits for the ones before it
	Correlation string                 // the event's correlation id, for log lines about this plan
}

// Delivery is a message's place among its consumer's deliveries
// (JetStream numbers them without gaps); zero when unknown.
type Delivery struct {
	Consumer string // stream and consumer, "GITHUB/route-name"
	Seq      uint64 // the consumer sequence
}

// Key is an upsert's key: the field and the value it must equal.
type Key struct {
	Field string
	Value any
}

// LookupValue is one many2one to resolve: the id of the Model record whose
// Field equals Value.
type LookupValue struct {
	Model   string
	Field   string
	Value   any    // nil or false: write the field empty without searching
	Missing string // route.MissingFail or route.MissingEmpty
}

// ExternalModule is the module of every external id the writer records.
const ExternalModule = "__pulsehub__"

// BatchKey says which plans may share calls to Odoo: same route, instance,
// model, op, key field and context.
func (p *Plan) BatchKey() string {
	ctx := ""
	if len(p.Context) > 0 {
		b, _ := json.Marshal(p.Context) // maps marshal with sorted keys
		ctx = string(b)
	}
	keyField := ""
	if p.Key != nil {
		keyField = p.Key.Field
	}
	return strings.Join([]string{p.Route, p.Instance, p.Model, p.Op, keyField, ctx}, "\x00")
}

// Conflicts names the records the plan touches, across routes: two plans
// sharing one must not be in calls to Odoo at the same time (two upserts
// of one key would both create).
func (p *Plan) Conflicts() []string {
	switch p.Op {
	case route.OpUpsert:
		k, _ := Canon(p.Key.Value)
		return []string{"key\x00" + p.Instance + "\x00" + p.Model + "\x00" + p.Key.Field + "\x00" + k}
	case route.OpCreate:
		return []string{"xmlid\x00" + p.Instance + "\x00" + p.ExternalID}
	}
	out := make([]string, len(p.IDs))
	for i, id := range p.IDs {
		out[i] = "id\x00" + p.Instance + "\x00" + p.Model + "\x00" + strconv.FormatInt(id, 10)
	}
	return out
}

// ExternalID is the external id a create records for the event eventID of
// routeName: __pulsehub__.<route>_<event id>, with every character an
// Odoo external id name should not hold turned into "_" ("-" included).
// When that changed more than dashes, a hash of the raw id is appended so
// that two ids differing only there stay apart.
func ExternalID(routeName, eventID string) string {
	name, lossy := sanitize(routeName + "_" + eventID)
	if lossy {
		sum := sha256.Sum256([]byte(routeName + "\x00" + eventID))
		name += "_" + hex.EncodeToString(sum[:6])
	}
	return ExternalModule + "." + name
}

func sanitize(s string) (string, bool) {
	lossy := false
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '-':
			b[i] = '_'
		default:
			b[i] = '_'
			lossy = true
		}
	}
	return string(b), lossy
}
