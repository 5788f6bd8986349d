package apply

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
)

// searchContext finds archived records too: an upsert that missed an
// archived record with its key would create a second one.
var searchContext = map[string]any{"active_test": false}

// keyed is the plans of one key value, in stream order, and their values
// merged (a later plan's value of a field wins).
type keyed struct {
	value any
	idx   []int
	vals  map[string]any
}

// upsert finds every key of the batch, creates the missing records in one
// call and writes the existing ones, one write per group of identical
// values.
func (b *work) upsert(ctx context.Context) {
	live := b.live()
	if len(live) == 0 {
		return
	}
	field := b.plans[live[0]].Key.Field
	keys, order := b.groupByKey(live)
	found, err := b.findKeys(ctx, field, keys, order)
	if err != nil {
		b.fail(live, err)
		return
	}
	var missing []*keyed
	groups := map[string]*writeGroup{}
	var writes []*writeGroup
	for _, c := range order {
		k := keys[c]
		ids := found[c]
		if len(ids) == 0 {
			missing = append(missing, k)
			continue
		}
		vk := valuesKey(k.vals)
		g := groups[vk]
		if g == nil || vk == "" {
			g = &writeGroup{vals: k.vals}
			groups[vk] = g
			writes = append(writes, g)
		}
		g.idx = append(g.idx, k.idx...)
		g.ids = append(g.ids, ids...)
	}
	b.createMissing(ctx, field, missing)
	b.writeGroups(ctx, writes)
}

func (b *work) groupByKey(live []int) (map[string]*keyed, []string) {
	keys := map[string]*keyed{}
	var order []string
	for _, i := range live {
		c, _ := plan.Canon(b.plans[i].Key.Value)
		k := keys[c]
		if k == nil {
			k = &keyed{value: b.plans[i].Key.Value, vals: map[string]any{}}
			keys[c] = k
			order = append(order, c)
		}
		k.idx = append(k.idx, i)
		maps.Copy(k.vals, b.vals[i])
	}
	return keys, order
}

// findKeys maps each key value to the ids of the records that have it:
// one search_read for a field of the model, one search per value for a
// path (partner_id.ref), whose value search_read cannot return.
func (b *work) findKeys(ctx context.Context, field string, keys map[string]*keyed, order []string) (map[string][]int64, error) {
	sctx := b.withContextDefaults(searchContext)
	found := make(map[string][]int64, len(order))
	if strings.Contains(field, ".") {
		for _, c := range order {
			v, err := b.callWithContext(ctx, b.model, "search", []any{[]any{[]any{field, "=", keys[c].value}}}, nil, sctx)
			if err != nil {
				return nil, fmt.Errorf("search %s by %s: %w", b.model, field, err)
			}
			found[c] = ids(v)
		}
		return found, nil
	}
	values := make([]any, len(order))
	for i, c := range order {
		values[i] = keys[c].value
	}
	v, err := b.callWithContext(ctx, b.model, "search_read", []any{[]any{[]any{field, "in", values}}},
		map[string]any{"fields": []any{field}, "order": "id"}, sctx)
	if err != nil {
		return nil, fmt.Errorf("search %s by %s: %w", b.model, field, err)
	}
	recs, ok := v.([]any)
	if !ok {
		return nil, events.Permanentf("%s.search_read answered a %T", b.model, v)
	}
	for _, e := range recs {
		m, _ := e.(map[string]any)
		r := odoo.Record(m)
		if c, ok := plan.Canon(r[field]); ok {
			found[c] = append(found[c], r.ID())
		}
	}
	return found, nil
}

// createMissing creates one record per missing key, with its key set, in
// one call.
func (b *work) createMissing(ctx context.Context, field string, missing []*keyed) {
	if len(missing) == 0 {
		return
	}
	list := make([]any, len(missing))
	var all []int
	for i, k := range missing {
		vals := maps.Clone(k.vals)
		if !strings.Contains(field, ".") {
			vals[field] = k.value
		}
		list[i] = vals
		all = append(all, k.idx...)
	}
	v, err := b.call(ctx, b.model, "create", []any{list}, nil)
	if err != nil {
		b.fail(all, err)
		return
	}
	if got := ids(v); len(got) != len(missing) {
		b.fail(all, events.Permanentf("create of %d %s records answered %v", len(missing), b.model, v))
	}
}

// ids reads a list of ids (or one id) from an answer; nil for anything else.
func ids(v any) []int64 {
	if id, ok := recordID(v); ok {
		return []int64{id}
	}
	list, _ := v.([]any)
	out := make([]int64, 0, len(list))
	for _, e := range list {
		if id, ok := recordID(e); ok {
			out = append(out, id)
		}
	}
	return out
}
