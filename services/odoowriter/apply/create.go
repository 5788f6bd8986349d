package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/odoowriter/batch"
)

// loadContext is added to a load's context unless the plan's sets it:
// load reads datetimes in the context's time zone, and the writer's
// values are UTC like create's and write's.
var loadContext = map[string]any{"tz": "UTC"}

// create upserts each plan's record by its external id with one load per
// set of columns: a plan delivered again finds the record its first
// delivery created, in the same transaction that created it.
func (b *work) create(ctx context.Context) {
	live := b.live()
	if len(live) == 0 {
		return
	}
	fields, err := b.modelFields(ctx, false)
	if err != nil {
		b.fail(live, err)
		return
	}
	rows := b.rows(ctx, live, fields)
	// One row per external id: the same event twice in a batch is one row,
	// the later delivery's.
	byXMLID := map[string][]int{}
	var order []string
	for _, i := range live {
		if b.errs[i] != nil {
			continue
		}
		x := b.plans[i].ExternalID
		if byXMLID[x] == nil {
			order = append(order, x)
		}
		byXMLID[x] = append(byXMLID[x], i)
	}
	groups := map[string][]string{} // columns → external ids
	var cols []string
	for _, x := range order {
		idx := byXMLID[x]
		c := columns(rows[idx[len(idx)-1]])
		if groups[c] == nil {
			cols = append(cols, c)
		}
		groups[c] = append(groups[c], x)
	}
	for _, c := range cols {
		b.load(ctx, strings.Split(c, "\x00"), groups[c], byXMLID, rows)
	}
}

// rows converts the values of live plans; a plan whose values load cannot
// take fails. An unknown field asks fields_get again once, in case the
// model gained it.
func (b *work) rows(ctx context.Context, live []int, fields map[string]fieldInfo) map[int]row {
	rows := make(map[int]row, len(live))
	refreshed := false
	for _, i := range live {
		r, err := toRow(b.model, fields, b.vals[i])
		var unknown *unknownField
		if errors.As(err, &unknown) && !refreshed {
			refreshed = true
			if f, ferr := b.modelFields(ctx, true); ferr == nil {
				fields = f
				r, err = toRow(b.model, fields, b.vals[i])
			}
		}
		if err != nil {
			b.errs[i] = err
			continue
		}
		rows[i] = r
	}
	return rows
}

// columns is a row's column set, sorted, as a key.
func columns(r row) string {
	cols := make([]string, 0, len(r.cells))
	for c := range r.cells {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	return strings.Join(cols, "\x00")
}

// load imports one group of rows that share their columns.
func (b *work) load(ctx context.Context, cols, xmlids []string, byXMLID map[string][]int, rows map[int]row) {
	if len(cols) == 1 && cols[0] == "" {
		cols = nil
	}
	data := make([]any, len(xmlids))
	var all []int
	for r, x := range xmlids {
		idx := byXMLID[x]
		all = append(all, idx...)
		cells := rows[idx[len(idx)-1]].cells
		line := make([]any, 0, len(cols)+1)
		line = append(line, x)
		for _, c := range cols {
			line = append(line, cells[c])
		}
		data[r] = line
	}
	v, err := b.callWithContext(ctx, b.model, "load", []any{append([]any{"id"}, anyStrings(cols)...), data}, nil,
		b.withContextDefaults(loadContext))
	if err != nil {
		b.fail(all, err)
		return
	}
	res, err := parseLoad(b.model, v)
	if err != nil {
		b.fail(all, err)
		return
	}
	if res.failed() {
		b.loadFailed(res, xmlids, byXMLID)
		return
	}
	b.writeAfterLoad(ctx, res.ids, xmlids, byXMLID, rows)
}

// loadFailed handles a load Odoo rolled back. The rows its messages name
// are run again one by one (a message can blame a row wrongly: Odoo
// repeats a failed batch's first error against its first row), the
// others again together; with no row named, every row one by one.
func (b *work) loadFailed(res loadResult, xmlids []string, byXMLID map[string][]int) {
	rowErr := res.rowErrors(b.model)
	var all []int
	for r, x := range xmlids {
		all = append(all, byXMLID[x]...)
		if rowErr == nil {
			continue
		}
		err := batch.Isolate(rowErr[r])
		if rowErr[r] == nil {
			err = batch.Again(fmt.Errorf("not imported: another row of the same load failed (%w)", res.first(b.model)))
		}
		for _, i := range byXMLID[x] {
			b.errs[i] = err
		}
	}
	if rowErr == nil {
		b.fail(all, res.first(b.model))
	}
}

// writeAfterLoad writes the values load cannot express (x2many commands)
// onto the records it gave, one write per group of identical values.
func (b *work) writeAfterLoad(ctx context.Context, ids []int64, xmlids []string, byXMLID map[string][]int, rows map[int]row) {
	if len(ids) != len(xmlids) {
		all := []int{}
		for _, x := range xmlids {
			all = append(all, byXMLID[x]...)
		}
		b.fail(all, events.Permanentf("load of %d rows answered %d ids", len(xmlids), len(ids)))
		return
	}
	groups := map[string]*writeGroup{}
	var list []*writeGroup
	for r, x := range xmlids {
		idx := byXMLID[x]
		after := rows[idx[len(idx)-1]].after
		if len(after) == 0 {
			continue
		}
		k := valuesKey(after)
		g := groups[k]
		if g == nil || k == "" {
			g = &writeGroup{vals: after}
			list = append(list, g)
			groups[k] = g
		}
		g.idx = append(g.idx, idx...)
		g.ids = append(g.ids, ids[r])
	}
	b.writeGroups(ctx, list)
}

func anyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
