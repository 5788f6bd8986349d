package batch

import (
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
)

// supersedeWindow is how long the batcher remembers the latest plan
// applied to each record: between one and two windows.
const supersedeWindow = 5 * time.Minute

// latest remembers, per route and record, the stream sequence and fields
// of the last plan applied. A plan of the same route for the same records
// with an earlier sequence and no field the later one did not write is
// stale: a redelivery after a retry, or two events of one record handled
// out of order. Skipping it keeps the later event's values, so the
// records end as the last event says, whatever the order of delivery.
type latest struct {
	mu       sync.Mutex
	cur, old map[string]applied
	rotated  time.Time
}

type applied struct {
	seq    uint64
	fields map[string]bool
}

func newLatest() *latest {
	return &latest{cur: map[string]applied{}, old: map[string]applied{}, rotated: time.Now()}
}

// tracked reports whether p's op is one the rule applies to: upserts and
// writes keyed by a record, not creates (an external id per event) or
// unlinks.
func tracked(p *plan.Plan) bool {
	return p.Seq > 0 && (p.Op == route.OpUpsert || p.Op == route.OpWrite)
}

// stale reports whether a later plan of p's route already wrote every
// field of p on each of its records (conflicts: p.Conflicts()).
func (l *latest) stale(p *plan.Plan, conflicts []string) bool {
	if !tracked(p) {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range conflicts {
		a, ok := l.cur[p.Route+"\x00"+c]
		if !ok {
			a, ok = l.old[p.Route+"\x00"+c]
		}
		if !ok || a.seq <= p.Seq || !covers(a.fields, p) {
			return false
		}
	}
	return len(conflicts) > 0
}

// done records plans that were applied.
func (l *latest) done(plans []*plan.Plan, errs []error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.rotated) > supersedeWindow {
		l.old, l.cur, l.rotated = l.cur, map[string]applied{}, time.Now()
	}
	for i, p := range plans {
		if errs[i] != nil || !tracked(p) {
			continue
		}
		for _, c := range p.Conflicts() {
			k := p.Route + "\x00" + c
			if a, ok := l.cur[k]; ok && a.seq >= p.Seq {
				continue
			}
			l.cur[k] = applied{seq: p.Seq, fields: fieldsOf(p)}
		}
	}
}

func fieldsOf(p *plan.Plan) map[string]bool {
	out := make(map[string]bool, len(p.Values)+len(p.Lookups))
	for f := range p.Values {
		out[f] = true
	}
	for f := range p.Lookups {
		out[f] = true
	}
	return out
}

func covers(fields map[string]bool, p *plan.Plan) bool {
	for f := range p.Values {
		if !fields[f] {
			return false
		}
	}
	for f := range p.Lookups {
		if !fields[f] {
			return false
		}
	}
	return true
}
