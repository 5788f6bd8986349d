package odoopoll

import (
	"context"
	"fmt"
	"time"

	"github.com/insightpulse/pulsehub/odoo"
)

// Reader is the part of the Odoo client the poll uses (*odoo.Client).
type Reader interface {
	SearchRead(ctx context.Context, model string, domain []any, fields []string, opts odoo.SearchOptions) ([]odoo.Record, error)
}

// cursor is where a scan stands: the second of write_date it is reading
// (Odoo answers write_date in whole seconds, PostgreSQL keeps
// microseconds) and the last record id read within that second.
type cursor struct {
	second time.Time
	lastID int64
}

// scan reads every record changed at or after start, in pages, oldest
// first, calling emit for each; emit's error stops the scan. It returns
// the second it got to: every record changed before it has been emitted.
//
// Paging is by key, never by offset, so records changing during the scan
// cannot make it skip one: within one second of write_date records are
// read in id order (write_date in [s, s+1s) and id > last); the next
// second is found by reading past it (write_date >= s+1s, oldest first),
// emitting the seconds that page holds whole and reading its last second
// again by id.
func scan(ctx context.Context, rd Reader, model string, fields []string, pageSize int, start time.Time,
	emit func(odoo.Record) error) (time.Time, error) {
	cur := cursor{second: start.UTC().Truncate(time.Second)}
	for ctx.Err() == nil {
		page, err := rd.SearchRead(ctx, model, sameSecond(cur), fields, odoo.SearchOptions{Limit: pageSize, Order: "id asc"})
		if err != nil {
			return cur.second, fmt.Errorf("search_read %s (write_date second %s): %w", model, odoo.FormatTime(cur.second), err)
		}
		for _, r := range page {
			if err := emit(r); err != nil {
				return cur.second, err
			}
			cur.lastID = r.ID()
		}
		if len(page) == pageSize {
			continue // more records in this second
		}
		next, err := rd.SearchRead(ctx, model, laterSeconds(cur), fields,
			odoo.SearchOptions{Limit: pageSize, Order: "write_date asc, id asc"})
		if err != nil {
			return cur.second, fmt.Errorf("search_read %s (after %s): %w", model, odoo.FormatTime(cur.second), err)
		}
		if len(next) == 0 {
			return cur.second, nil
		}
		last := writeSecond(next[len(next)-1])
		if !last.After(cur.second) {
			return cur.second, fmt.Errorf("search_read %s: records without write_date: the poll's fields must include write_date", model)
		}
		for _, r := range next {
			if !writeSecond(r).Before(last) {
				break // the last second is read again whole, by id
			}
			if err := emit(r); err != nil {
				return writeSecond(r), err
			}
		}
		cur = cursor{second: last}
	}
	return cur.second, ctx.Err()
}

// sameSecond is the domain of the records of cur's second after its last id.
func sameSecond(cur cursor) []any {
	return []any{
		[]any{"write_date", ">=", odoo.FormatTime(cur.second)},
		[]any{"write_date", "<", odoo.FormatTime(cur.second.Add(time.Second))},
		[]any{"id", ">", cur.lastID},
	}
}

// laterSeconds is the domain of the records changed after cur's second.
func laterSeconds(cur cursor) []any {
	return []any{[]any{"write_date", ">=", odoo.FormatTime(cur.second.Add(time.Second))}}
}

// writeSecond is a record's write_date, in whole seconds (zero if absent).
func writeSecond(r odoo.Record) time.Time {
	t, _ := r.Time("write_date")
	return t.Truncate(time.Second)
}
