package e2e

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/healthmon/ops"
)

// snapshot is the fake's tasks by issue id, without the fields a write
// touches by itself (write_date, the ORM's bookkeeping).
func snapshot(h *Hub) map[int64]map[string]any {
	out := map[int64]map[string]any{}
	for id, recs := range h.Tasks() {
		r := map[string]any{}
		for k, v := range recs[0] {
			if k != "write_date" && k != "__last_update" {
				r[k] = v
			}
		}
		r["copies"] = len(recs)
		out[id] = r
	}
	return out
}

// replayAll replays the whole GITHUB stream into the route and waits for
// the route's service to drain and remove the replay consumer.
func replayAll(t *testing.T, h *Hub) {
	t.Helper()
	plan, err := ops.Replay(context.Background(), h.JS, ops.ReplayRequest{Route: "github-issues-to-tasks", FromSeq: 1})
	if err != nil || plan.Count == 0 {
		t.Fatalf("replay: %+v %v", plan, err)
	}
	natstest.WaitFor(t, wait, "the replay drained", func() bool {
		_, err := h.JS.Consumer(context.Background(), events.StreamGitHub, stream.ReplayName("github-issues-to-tasks"))
		return err != nil
	})
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
}

// Replaying the GITHUB stream into its route from the start, twice,
// leaves Odoo's records and values as they were after the first pass.
func TestReplayFromTheStartTwiceLeavesOdooAsItWas(t *testing.T) {
	old := consume.ReplayPoll
	consume.ReplayPoll = 100 * time.Millisecond
	t.Cleanup(func() { consume.ReplayPoll = old })
	h := NewHub(t, Options{})
	for i := 1; i <= 30; i++ {
		h.MustSend(IssueDelivery(t, "opened", i, fmt.Sprintf("Issue %d", i)))
	}
	for i := 1; i <= 30; i += 3 { // later edits of some issues: the replay must end on them again
		h.MustSend(IssueDelivery(t, "edited", i, fmt.Sprintf("Issue %d, edited", i)))
	}
	h.WaitTasks(30)
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
	first := snapshot(h)
	for pass := 1; pass <= 2; pass++ {
		replayAll(t, h)
		if got := snapshot(h); !reflect.DeepEqual(got, first) {
			t.Fatalf("after replay %d Odoo differs:\n got %v\nwant %v", pass, diffKeys(got, first), first)
		}
	}
	if first[4]["name"] != "Issue 4, edited" || first[5]["name"] != "Issue 5" {
		t.Fatalf("values: %v %v", first[4]["name"], first[5]["name"])
	}
}

func diffKeys(a, b map[int64]map[string]any) []int64 {
	var out []int64
	for k := range a {
		if !reflect.DeepEqual(a[k], b[k]) {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// A delivery that fails permanently is dead-lettered; once its cause is
// fixed in Odoo, requeueing it applies it exactly once.
func TestRequeuedDeadLetterIsAppliedOnceAfterTheFix(t *testing.T) {
	extra := `  - name: issues-with-repo
    from: {stream: GITHUB, subjects: ["github.issues.*"]}
    retry: {initial_interval: 50ms, max_interval: 1s}
    odoo:
      model: x.github.issue
      op: upsert
      key: {field: x_issue_id, value: .issue.id}
      values: {name: .issue.title, x_repo: .repository.full_name}
`
	// x.github.issue exists, but without x_repo: Odoo refuses the write
	// (unknown field, a permanent fault) until an admin adds the field.
	h := NewHub(t, Options{Extra: extra, Models: []odootest.Model{{Name: "x.github.issue", Fields: map[string]odootest.Field{
		"name": {Type: odootest.Char, Required: true}, "x_issue_id": {Type: odootest.Integer}}}}})
	h.MustSend(IssueDelivery(t, "opened", 77, "Needs a repo"))
	natstest.WaitFor(t, wait, "a dead letter", func() bool {
		d, _ := stream.DLQDepth(context.Background(), h.JS, "issues-with-repo")
		return d == 1
	})
	h.WaitTasks(1) // the other route on the same subject was not affected
	letters, err := ops.ListDLQ(context.Background(), h.JS, "issues-with-repo", 0)
	if err != nil || len(letters) != 1 {
		t.Fatalf("dead letters: %v %v", letters, err)
	}
	h.Odoo.AddModel(odootest.Model{Name: "x.github.issue", Fields: map[string]odootest.Field{"x_repo": {Type: odootest.Char}}})
	tasksWrites := h.Odoo.CallsFor("project.task", "write") + h.Odoo.CallsFor("project.task", "create")
	if _, err := ops.Requeue(context.Background(), h.JS, letters, false); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, wait, "the requeued delivery applied", func() bool { return h.Odoo.Count("x.github.issue") == 1 })
	h.WaitIdle(events.StreamGitHub, "issues-with-repo")
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
	if n := h.Odoo.Count("x.github.issue"); n != 1 {
		t.Fatalf("%d records after the requeue", n)
	}
	if got := h.Odoo.CallsFor("project.task", "write") + h.Odoo.CallsFor("project.task", "create"); got != tasksWrites {
		t.Fatal("the requeue reached the other route")
	}
	if d, _ := stream.DLQDepth(context.Background(), h.JS, "issues-with-repo"); d != 0 {
		t.Fatalf("%d dead letters left", d)
	}
}
