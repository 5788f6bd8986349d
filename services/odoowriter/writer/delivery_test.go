package writer

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/nats-io/nats.go/jetstream"
)

// replayRoutes write every issues event twice: an upsert of the task by
// the issue's id, and a create of a partner per event (idempotent by the
// event's external id).
const replayRoutes = `
- name: issues-upsert
  from: {stream: GITHUB, subjects: ["github.issues.*"]}
  retry: ` + fastRetry + `
  odoo:
    model: project.task
    op: upsert
    key: {field: x_github_issue_id, value: .issue.id}
    values: {name: .issue.title, priority: 'if .issue.number % 2 == 0 then "1" else "0" end', sequence: .issue.number}
- name: issues-create
  from: {stream: GITHUB, subjects: ["github.issues.*"]}
  retry: ` + fastRetry + `
  odoo:
    model: res.partner
    op: create
    values: {name: '"Reporter of " + .issue.title', ref: $event.id, is_company: false}
`

// writtenOnce waits until both replayRoutes settled and checks that each
// of n events made one task and one partner, and no dead letter.
func (h *harness) writtenOnce(t *testing.T, n int) {
	t.Helper()
	h.settled(t, events.StreamGitHub, "issues-upsert")
	h.settled(t, events.StreamGitHub, "issues-create")
	if tasks, partners := h.fake.Count("project.task"), h.fake.Count("res.partner"); tasks != n || partners != n+3 {
		t.Fatalf("%d tasks, %d partners (3 seeded) for %d events", tasks, partners, n)
	}
	if dl := h.dlq(t); len(dl) != 0 {
		t.Fatalf("dead letter: %v", dl[0].Header)
	}
}

// replay asks for a replay of route from the stream's start, as `hub
// replay` does, and waits until the writer has drained and deleted it.
func (h *harness) replay(t *testing.T, route, streamName string) {
	t.Helper()
	ctx := context.Background()
	s, err := h.js.Stream(ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := stream.ReplayName(route)
	_, err = h.js.CreateConsumer(ctx, streamName, jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy, MaxDeliver: -1, FilterSubject: "github.issues.*",
		Metadata: map[string]string{stream.ReplayEndSeqKey: strconv.FormatUint(info.State.LastSeq, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, 60*time.Second, "replay of "+route+" drained", func() bool {
		_, err := h.js.Consumer(ctx, streamName, name)
		return err == jetstream.ErrConsumerNotFound
	})
}

func TestReplayingTheSameEventsThreeTimesLeavesOdooAsAfterOnePass(t *testing.T) {
	old := consume.ReplayPoll
	consume.ReplayPoll = 50 * time.Millisecond
	t.Cleanup(func() { consume.ReplayPoll = old })
	h := setup(t, replayRoutes)
	const n = 500
	for i := range n {
		// 500 events about 250 issues: each issue opened, then edited.
		body := issue(t, 1000+i/2, fmt.Sprintf("Issue %d v%d", i/2, i%2), map[string]any{})
		h.publish(t, "github.issues.opened", fmt.Sprintf("delivery-%03d", i), body)
	}
	h.start(t)
	h.settled(t, events.StreamGitHub, "issues-upsert")
	h.settled(t, events.StreamGitHub, "issues-create")
	tasks, partners := h.fake.Records("project.task"), h.fake.Records("res.partner")
	if len(tasks) != n/2 || h.fake.Count("res.partner") != n+3 { // + the 3 seeded partners
		t.Fatalf("after one pass: %d tasks, %d partners", len(tasks), h.fake.Count("res.partner"))
	}
	for range 2 {
		h.replay(t, "issues-upsert", events.StreamGitHub)
		h.replay(t, "issues-create", events.StreamGitHub)
	}
	if got := h.fake.Records("project.task"); !reflect.DeepEqual(withoutWriteDate(got), withoutWriteDate(tasks)) {
		t.Errorf("tasks changed by the replays: %d now, %d after one pass: %s", len(got), len(tasks), firstDiff(withoutWriteDate(got), withoutWriteDate(tasks)))
	}
	if got := h.fake.Records("res.partner"); !reflect.DeepEqual(withoutWriteDate(got), withoutWriteDate(partners)) {
		t.Errorf("partners changed by the replays: %d now, %d after one pass: %s", len(got), len(partners), firstDiff(withoutWriteDate(got), withoutWriteDate(partners)))
	}
	if n := h.fake.Count("ir.model.data"); n != 500 {
		t.Errorf("%d external ids, want one per event", n)
	}
	if dl := h.dlq(t); len(dl) != 0 {
		t.Fatalf("dead letters: %v", dl[0].Header)
	}
	// The 250 tasks were created by batched calls, fewer than one per
	// record. How few depends on timing (a loaded machine forms smaller
	// batches within the linger), so the bound is loose; the writer
	// benchmark measures the batching itself.
	if c := h.fake.CallsFor("project.task", "create"); c >= n/2 {
		t.Errorf("%d creates of tasks for %d new tasks: not batched", c, n/2)
	}
}

func TestOneBadRecordInABatchOfHundredIsTheOnlyDeadLetter(t *testing.T) {
	for _, r := range []string{"issues-upsert", "issues-create"} {
		t.Run(r, func(t *testing.T) {
			routes := strings.Replace(replayRoutes, "is_company: false", "is_company: false, parent_id: .parent", 1)
			routes = strings.Replace(routes, "sequence: .issue.number", "sequence: .issue.number, project_id: .parent", 1)
			h := setup(t, routes)
			if _, err := h.fake.Insert("project.project", map[string]any{"id": int64(1), "name": "Parent project"}); err != nil {
				t.Fatal(err)
			}
			var badSeq uint64
			for i := range 100 {
				extra := map[string]any{"parent": 1} // partner 1 and project 1 exist
				if i == 42 {
					extra["parent"] = 999999
				}
				seq := h.publish(t, "github.issues.opened", fmt.Sprintf("d-%d", i), issue(t, 5000+i, fmt.Sprintf("Issue %d", i), extra))
				if i == 42 {
					badSeq = seq
				}
			}
			h.start(t)
			h.settled(t, events.StreamGitHub, r)
			model := map[string]string{"issues-upsert": "project.task", "issues-create": "res.partner"}[r]
			want := map[string]int{"project.task": 99, "res.partner": 99 + 3}[model]
			if got := h.fake.Count(model); got != want {
				t.Fatalf("%d %s records, want %d", got, model, want)
			}
			var mine []*jetstream.RawStreamMsg
			for _, m := range h.dlq(t) {
				if m.Header.Get(events.HeaderRoute) == r {
					mine = append(mine, m)
				}
			}
			if len(mine) != 1 {
				t.Fatalf("%d dead letters of %s, want 1", len(mine), r)
			}
			d := mine[0]
			reason := d.Header.Get(events.HeaderDLQReason)
			if d.Header.Get(events.HeaderID) != "d-42" || d.Header.Get(events.HeaderOriginSeq) != strconv.FormatUint(badSeq, 10) ||
				d.Header.Get(events.HeaderDLQKind) != "permanent" || d.Header.Get(events.HeaderOriginStream) != events.StreamGitHub ||
				d.Subject != "dlq."+r+".github.issues.opened" || !strings.Contains(reason, "route "+r) || !strings.Contains(reason, "odoo "+model) ||
				!strings.Contains(reason, "999999") && !strings.Contains(reason, "another model requires the record") {
				t.Fatalf("dead letter %s: %v", d.Subject, d.Header)
			}
		})
	}
}

func TestOdooDownIsRetriedAndNothingIsLostOrWrittenTwice(t *testing.T) {
	h := setup(t, replayRoutes)
	if err := h.fake.SetDown(true); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		h.publish(t, "github.issues.opened", fmt.Sprintf("d-%d", i), issue(t, 7000+i, fmt.Sprintf("Issue %d", i), nil))
	}
	h.start(t)
	natstest.WaitFor(t, 20*time.Second, "Odoo reported down", func() bool {
		return strings.Contains(h.get(t, "/health/odoo"), `"state": "down"`)
	})
	if body := h.get(t, "/health"); !strings.Contains(body, `"status": "ok"`) {
		t.Errorf("/health with Odoo down: %s", body)
	}
	if err := h.fake.SetDown(false); err != nil {
		t.Fatal(err)
	}
	h.writtenOnce(t, 50)
	if body := h.get(t, "/health/odoo"); !strings.Contains(body, `"state": "up"`) {
		t.Errorf("/health/odoo after recovery: %s", body)
	}
}

// TestWriterKilledMidBatchLosesAndDuplicatesNothing stops a writer while
// Odoo has applied its batches but not answered, so their messages are
// never acknowledged, then starts another: every event is redelivered and
// ends up written once.
func TestWriterKilledMidBatchLosesAndDuplicatesNothing(t *testing.T) {
	h := setup(t, replayRoutes)
	h.cfg.ShutdownGrace = 50 * time.Millisecond
	// Enough call slots that the stalled creates of one route (a loaded
	// machine forms more, smaller batches) cannot starve the other's load.
	inst := h.cfg.Odoo["default"]
	inst.MaxConcurrency = 32
	h.cfg.Odoo["default"] = inst
	for i := range 100 {
		h.publish(t, "github.issues.opened", fmt.Sprintf("d-%d", i), issue(t, 9000+i, fmt.Sprintf("Issue %d", i), nil))
	}
	// Writes take a minute per record to answer: the fake applies them at
	// once and answers late, as an Odoo that commits and then stalls.
	// Authentication and searches (no record found) answer at once.
	h.fake.SetLatency(odootest.Latency{PerRecord: time.Minute})
	stop := h.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, method := range []string{"create", "load"} {
		if err := h.fake.WaitCalls(ctx, method, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := stop(); err != nil { // the kill: in-flight writes are cut after the 50ms grace
		t.Fatalf("Run: %v", err)
	}
	if h.fake.Count("project.task") == 0 || h.fake.Count("res.partner") == 3 {
		t.Fatal("nothing was written before the kill; the test proves nothing")
	}
	h.fake.SetLatency(odootest.Latency{})
	for _, c := range []string{"issues-upsert", "issues-create"} {
		cons, err := h.js.Consumer(context.Background(), events.StreamGitHub, c)
		if err != nil {
			t.Fatal(err)
		}
		if info, _ := cons.Info(context.Background()); info.AckFloor.Stream == 100 {
			t.Fatalf("%s: everything acknowledged before the kill; the test proves nothing", c)
		}
	}
	h.start(t)
	h.writtenOnce(t, 100)
}
