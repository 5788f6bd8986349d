package apply

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
)

// lookupKey is one search of a batch: a related model and field.
type lookupKey struct{ model, field string }

// resolveLookups returns each plan's values with its many2one lookups
// replaced by record ids: one search_read per related model and field for
// the whole batch. A plan whose value matches nothing fails permanently
// (or gets false with missing: empty).
func (b *work) resolveLookups(ctx context.Context) []map[string]any {
	vals := make([]map[string]any, len(b.plans))
	wanted := map[lookupKey]map[string]any{} // canonical value → value
	for i, p := range b.plans {
		vals[i] = maps.Clone(p.Values)
		if vals[i] == nil {
			vals[i] = map[string]any{}
		}
		for _, l := range p.Lookups {
			c, ok := plan.Canon(l.Value)
			if !ok {
				continue
			}
			k := lookupKey{l.Model, l.Field}
			if wanted[k] == nil {
				wanted[k] = map[string]any{}
			}
			wanted[k][c] = l.Value
		}
	}
	found := map[lookupKey]map[string]int64{}
	failed := map[lookupKey]error{}
	for _, k := range sortedLookups(wanted) {
		ids, err := b.search(ctx, k, wanted[k])
		if err != nil {
			failed[k] = fmt.Errorf("lookup %s by %s: %w", k.model, k.field, err)
			continue
		}
		found[k] = ids
	}
	byErr := map[error][]int{}
	for i, p := range b.plans {
		for _, f := range slices.Sorted(maps.Keys(p.Lookups)) {
			l := p.Lookups[f]
			k := lookupKey{l.Model, l.Field}
			if err := failed[k]; err != nil {
				byErr[err] = append(byErr[err], i)
				break
			}
			id, err := pick(f, l, found[k])
			if err != nil {
				b.errs[i] = err
				break
			}
			vals[i][f] = id
		}
	}
	for err, idx := range byErr {
		b.fail(idx, err)
	}
	return vals
}

// search finds the records of k whose field is one of values: value →
// the lowest matching id.
func (b *work) search(ctx context.Context, k lookupKey, values map[string]any) (map[string]int64, error) {
	list := make([]any, 0, len(values))
	for _, c := range slices.Sorted(maps.Keys(values)) {
		list = append(list, values[c])
	}
	v, err := b.call(ctx, k.model, "search_read", []any{[]any{[]any{k.field, "in", list}}},
		map[string]any{"fields": []any{k.field}, "order": "id"})
	if err != nil {
		return nil, err
	}
	recs, ok := v.([]any)
	if !ok {
		return nil, events.Permanentf("search_read answered a %T", v)
	}
	out := make(map[string]int64, len(recs))
	for _, e := range recs {
		r, _ := e.(map[string]any)
		rec := odoo.Record(r)
		if c, ok := plan.Canon(rec[k.field]); ok && out[c] == 0 {
			out[c] = rec.ID()
		}
	}
	return out, nil
}

// pick is the id a lookup gives: false for an empty value, the match, or
// per the lookup's missing: a permanent error or false.
func pick(field string, l plan.LookupValue, found map[string]int64) (any, error) {
	c, ok := plan.Canon(l.Value)
	if !ok {
		return false, nil
	}
	if id := found[c]; id != 0 {
		return id, nil
	}
	if l.Missing == route.MissingEmpty {
		return false, nil
	}
	return nil, events.Permanentf("lookup %s: no %s record has %s = %q (set missing: empty to write the field empty instead)",
		field, l.Model, l.Field, c)
}

func sortedLookups(m map[lookupKey]map[string]any) []lookupKey {
	out := make([]lookupKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].model != out[j].model {
			return out[i].model < out[j].model
		}
		return out[i].field < out[j].field
	})
	return out
}
