package apply

import (
	"context"
	"slices"

	"github.com/insightpulse/pulsehub/odoo"
)

// write writes each plan's values on its records: one write per group of
// plans with identical values. Plans that share a record are written one
// after the other in stream order instead, so the later one wins.
func (b *work) write(ctx context.Context) {
	live := b.live()
	if len(live) == 0 {
		return
	}
	if b.sharesRecords(live) {
		for _, i := range live {
			b.writeGroups(ctx, []*writeGroup{{idx: []int{i}, ids: b.plans[i].IDs, vals: b.vals[i]}})
		}
		return
	}
	groups := map[string]*writeGroup{}
	var list []*writeGroup
	for _, i := range live {
		k := valuesKey(b.vals[i])
		g := groups[k]
		if g == nil || k == "" {
			g = &writeGroup{vals: b.vals[i]}
			groups[k] = g
			list = append(list, g)
		}
		g.idx = append(g.idx, i)
		g.ids = append(g.ids, b.plans[i].IDs...)
	}
	b.writeGroups(ctx, list)
}

func (b *work) sharesRecords(live []int) bool {
	seen := map[int64]bool{}
	for _, i := range live {
		for _, id := range b.plans[i].IDs {
			if seen[id] {
				return true
			}
			seen[id] = true
		}
	}
	return false
}

// unlink deletes every record of the batch in one call. Records already
// gone are done: a redelivered unlink finds nothing to delete.
func (b *work) unlink(ctx context.Context) {
	live := b.live()
	if len(live) == 0 {
		return
	}
	var all []int64
	for _, i := range live {
		for _, id := range b.plans[i].IDs {
			if !slices.Contains(all, id) {
				all = append(all, id)
			}
		}
	}
	_, err := b.call(ctx, b.model, "unlink", []any{all}, nil)
	if err == nil || !odoo.IsMissingRecord(err) {
		if err != nil {
			b.fail(live, err)
		}
		return
	}
	v, err := b.callWithContext(ctx, b.model, "search", []any{[]any{[]any{"id", "in", anyIDs(all)}}}, nil,
		b.withContextDefaults(searchContext))
	if err != nil {
		b.fail(live, err)
		return
	}
	existing := ids(v)
	b.logGone(live, existing)
	if len(existing) == 0 {
		return
	}
	if _, err := b.call(ctx, b.model, "unlink", []any{existing}, nil); err != nil {
		b.fail(live, err)
	}
}

// logGone logs, per plan, the records that were already deleted.
func (b *work) logGone(live []int, existing []int64) {
	for _, i := range live {
		var gone []int64
		for _, id := range b.plans[i].IDs {
			if !slices.Contains(existing, id) {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			p := b.plans[i]
			b.a.log.Info("unlink: records already gone, nothing to delete", "correlation_id", p.Correlation, "route", p.Route,
				"stream_seq", p.Seq, "odoo_model", b.model, "odoo_ids", gone)
		}
	}
}

func anyIDs(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
