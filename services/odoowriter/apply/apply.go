// Package apply writes batches of plans into Odoo: the fewest calls that
// give every plan its effect, with one outcome per plan.
//
//   - create: one load call (Odoo's import) with the event's external id
//     in the "id" column, which creates the record and its ir.model.data
//     row in one transaction, or updates the record when the external id
//     exists: a redelivered or replayed event finds its record;
//   - upsert: one search_read for every key of the batch, one create with
//     a list for the missing ones, one write per group of existing records
//     given the same values;
//   - write: one write per group of plans with the same values;
//   - unlink: one unlink for every id; ids already gone count as done.
//
// Many2one lookups are resolved first, one search_read per related model
// and field for the whole batch. Faults are Odoo's own *odoo.Fault
// (transient or permanent); a permanent fault of a call made for several
// plans is marked batch.Isolate so the batcher finds the bad one.
package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/odoowriter/batch"
	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
)

// Applier writes plans into the Odoo instances it has clients for.
type Applier struct {
	clients map[string]*odoo.Client
	monitor *Monitor
	fields  *fieldCache
	log     *slog.Logger
}

// New returns an Applier over clients (by instance name). monitor records
// every call (metrics, health); log may be nil.
func New(clients map[string]*odoo.Client, monitor *Monitor, log *slog.Logger) *Applier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Applier{clients: clients, monitor: monitor, fields: newFieldCache(), log: log}
}

// Apply writes plans that share a batch key (instance, model, op, context)
// and returns one error per plan, in order.
func (a *Applier) Apply(ctx context.Context, plans []*plan.Plan) []error {
	errs := make([]error, len(plans))
	p0 := plans[0]
	if _, ok := a.clients[p0.Instance]; !ok {
		return fill(errs, events.Permanentf("no Odoo instance %q is configured", p0.Instance))
	}
	b := &work{a: a, inst: p0.Instance, model: p0.Model, context: p0.Context, plans: plans, errs: errs}
	b.vals = b.resolveLookups(ctx)
	switch p0.Op {
	case route.OpCreate:
		b.create(ctx)
	case route.OpUpsert:
		b.upsert(ctx)
	case route.OpWrite:
		b.write(ctx)
	case route.OpUnlink:
		b.unlink(ctx)
	default:
		fill(errs, events.Permanentf("unknown op %q", p0.Op))
	}
	return errs
}

// work is one batch being applied.
type work struct {
	a       *Applier
	inst    string
	model   string
	context map[string]any
	plans   []*plan.Plan
	vals    []map[string]any // each plan's values with its lookups resolved
	errs    []error          // each plan's outcome so far; a plan with an error takes no further part
}

// live lists the plans without an outcome yet, in stream order.
func (b *work) live() []int {
	var out []int
	for i, err := range b.errs {
		if err == nil {
			out = append(out, i)
		}
	}
	slices.SortStableFunc(out, func(x, y int) int { return cmpSeq(b.plans[x].Seq, b.plans[y].Seq) })
	return out
}

func cmpSeq(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// fail gives err to the plans of idx: as it is when it is transient or
// the call was for one plan, marked Isolate when a permanent fault of a
// call for several plans does not say which one it refused.
func (b *work) fail(idx []int, err error) {
	if len(idx) > 1 && events.IsPermanent(err) && !modelWide(err) {
		err = batch.Isolate(err)
	}
	for _, i := range idx {
		b.errs[i] = err
	}
}

// modelWide reports a fault every plan of the batch would get alone too
// (the model does not exist, the user may not touch it), which trying
// them one by one would only repeat.
func modelWide(err error) bool {
	return odoo.IsUnknownModel(err) || odoo.IsAccessError(err) || odoo.IsAccessDenied(err)
}

// call runs model.method on the batch's instance with its context.
func (b *work) call(ctx context.Context, model, method string, args []any, kw map[string]any) (any, error) {
	if len(b.context) > 0 {
		kw = withKW(kw, "context", b.context)
	}
	return b.a.monitor.call(ctx, b.a.clients[b.inst], b.inst, model, method, args, kw)
}

// withContextDefaults is the batch's context with defaults added for the
// keys it does not set.
func (b *work) withContextDefaults(defaults map[string]any) map[string]any {
	out := make(map[string]any, len(b.context)+len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range b.context {
		out[k] = v
	}
	return out
}

// callWithContext is call with an explicit context instead of the batch's.
func (b *work) callWithContext(ctx context.Context, model, method string, args []any, kw map[string]any, octx map[string]any) (any, error) {
	return b.a.monitor.call(ctx, b.a.clients[b.inst], b.inst, model, method, args, withKW(kw, "context", octx))
}

func withKW(kw map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(kw)+1)
	for key, val := range kw {
		out[key] = val
	}
	out[k] = v
	return out
}

func fill(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// valuesKey is a comparable form of values, "" when they cannot be
// compared (then the plan is written on its own).
func valuesKey(v map[string]any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// writeGroup is records given the same values by the plans of idx.
type writeGroup struct {
	idx  []int
	ids  []int64
	vals map[string]any
}

// writeGroups runs one write per group, at once (the client bounds the
// calls in flight to the instance).
func (b *work) writeGroups(ctx context.Context, groups []*writeGroup) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.call(ctx, b.model, "write", []any{g.ids, g.vals}, nil)
			if err != nil {
				mu.Lock()
				b.fail(g.idx, fmt.Errorf("write %s %v: %w", b.model, shortIDs(g.ids), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// shortIDs prints at most a few ids for an error message.
func shortIDs(ids []int64) string {
	if len(ids) <= 5 {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v… (%d ids)", ids[:5], len(ids))
}
