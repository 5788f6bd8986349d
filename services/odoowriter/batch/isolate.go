package batch

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
)

// applyAll applies plans and follows the marks on the outcome: plans
// marked Again are applied once more together, plans marked Isolate (and
// Again ones that fail together a second time) one by one. What it
// returns carries no marks.
func (b *Batcher) applyAll(ctx context.Context, plans []*plan.Plan) []error {
	errs := b.applyObserved(ctx, plans)
	if len(plans) == 1 {
		errs[0] = unmark(errs[0])
		return errs
	}
	var again, alone []int
	for i, err := range errs {
		switch m, _ := markOf(err); m {
		case markAgain:
			again = append(again, i)
		case markIsolate:
			alone = append(alone, i)
		}
	}
	if len(again) > 0 {
		sub := b.applyObserved(ctx, pick(plans, again))
		for j, i := range again {
			if m, _ := markOf(sub[j]); m != 0 && len(again) > 1 {
				alone = append(alone, i)
				continue
			}
			errs[i] = sub[j]
		}
	}
	// In stream order: of two plans of one record, the later is applied last.
	slices.SortFunc(alone, func(x, y int) int { return cmp.Compare(plans[x].Seq, plans[y].Seq) })
	for _, i := range alone {
		errs[i] = b.applyObserved(ctx, plans[i:i+1])[0]
	}
	for i := range errs {
		errs[i] = unmark(errs[i])
	}
	return errs
}

// applyObserved calls apply, reports the batch size, and makes sure the
// answer has one error per plan.
func (b *Batcher) applyObserved(ctx context.Context, plans []*plan.Plan) []error {
	if b.observe != nil {
		b.observe(plans[0].Route, plans[0].Op, len(plans))
	}
	errs := b.apply(ctx, plans)
	if len(errs) != len(plans) {
		panic(fmt.Sprintf("batch: apply returned %d outcomes for %d plans", len(errs), len(plans)))
	}
	return errs
}

// unmark strips a mark; a plan still marked after its own call failed
// for itself, so the error under the mark is its outcome.
func unmark(err error) error {
	_, inner := markOf(err)
	return inner
}

func pick(plans []*plan.Plan, idx []int) []*plan.Plan {
	out := make([]*plan.Plan, len(idx))
	for j, i := range idx {
		out[j] = plans[i]
	}
	return out
}
