package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/insightpulse/pulsehub/services/dispatcher/graph"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// parseGraph reads a graph written as JSON in a test.
func parseGraph(t *testing.T, body string) jobs.Graph {
	t.Helper()
	var b jobs.GraphBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("graph %s: %v", body, err)
	}
	return b.Graph
}

func (b *bus) enqueueGraph(t *testing.T, body string) jobs.EnqueuedGraph {
	t.Helper()
	e, err := jobs.EnqueueGraph(context.Background(), b.js, parseGraph(t, body), jobs.GraphLimits{})
	if err != nil {
		t.Fatalf("enqueue graph: %v", err)
	}
	return e
}

// waitGraph waits until graph id has state s, and returns its view.
func (b *bus) waitGraph(t *testing.T, id, s string) graph.View {
	t.Helper()
	var v graph.View
	natstest.WaitFor(t, wait, "graph "+id+" to be "+s, func() bool {
		var err error
		v, err = graph.Load(context.Background(), b.js, id)
		return err == nil && v.State == s
	})
	return v
}

func nodeState(v graph.View, node string) jobstate.State {
	for _, n := range v.Nodes {
		if n.ID == node {
			return n.State
		}
	}
	return ""
}

// jsonFake answers every call with body, recording the calls.
func jsonFake(t *testing.T, body string) *fake {
	return newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 200, body) })
}

// doneAt is when job id was recorded done.
func (b *bus) doneAt(t *testing.T, id string) time.Time {
	t.Helper()
	return b.job(t, id).DoneAt
}

func TestGraphChainUsesParentResultsAndWritesToOdoo(t *testing.T) {
	b := newBus(t)
	ocr := jsonFake(t, `{"total": 12.5, "text": "two coffees"}`)
	llm := jsonFake(t, `{"summary": "coffee"}`)
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(ocr.URL, 2), "llm": svcConfig(llm.URL, 2)}))
	e := b.enqueueGraph(t, `{"graph": {"name": "expense", "description": "OCR, LLM, Odoo",
	  "nodes": {
	    "ocr": {"service": "ocr", "task": "extract", "payload": {"attachment_id": 42}},
	    "llm": {"service": "llm", "task": "summarize", "payload_from": "{text: .parents.ocr.response.text}"},
	    "write": {"odoo": {"model": "hr.expense", "op": "write"},
	              "payload_from": "{id: .parents.ocr.request.attachment_id, values: {x_total: .parents.ocr.response.total, x_summary: .parents.llm.response.summary}}"}},
	  "edges": [["ocr", "llm"], ["ocr", "write"], ["llm", "write"]]}}`)
	if e.Subject != "jobs.graph.expense" || e.Nodes != 3 {
		t.Fatalf("enqueued %+v", e)
	}
	v := b.waitGraph(t, e.ID, graph.StateDone)
	if ocr.count() != 1 || llm.count() != 1 {
		t.Fatalf("calls: ocr %d, llm %d", ocr.count(), llm.count())
	}
	if got := string(llm.call(0).Body); got != `{"text":"two coffees"}` {
		t.Fatalf("llm request %s", got)
	}
	if !llm.call(0).At.After(b.doneAt(t, graph.JobID(e.ID, "ocr"))) {
		t.Fatal("llm was called before ocr was recorded done")
	}
	cmds := b.read(t, events.StreamOdooCmd, "odoo.cmd.>")
	if len(cmds) != 1 || cmds[0].Subject != "odoo.cmd.hr_expense.write" {
		t.Fatalf("commands %+v", cmds)
	}
	var cmd map[string]any
	_ = json.Unmarshal(cmds[0].Data, &cmd)
	if cmd["model"] != "hr.expense" || cmd["op"] != "write" || fmt.Sprint(cmd["id"]) != "42" ||
		fmt.Sprint(cmd["values"]) != "map[x_summary:coffee x_total:12.5]" {
		t.Fatalf("command %s", cmds[0].Data)
	}
	if cmds[0].Header.Get(events.HeaderID) != graph.JobID(e.ID, "write") {
		t.Fatalf("command headers %v", cmds[0].Header)
	}
	drawing := v.Draw()
	for _, want := range []string{"graph " + e.ID + " expense: done, 3 nodes (done 3)", "level 2", "write", "odoo hr.expense write", "← ocr, llm"} {
		if !strings.Contains(drawing, want) {
			t.Errorf("drawing lacks %q:\n%s", want, drawing)
		}
	}
	list, err := jobs.List(context.Background(), b.js, jobstate.Filter{Graph: e.ID})
	if err != nil || len(list) != 3 {
		t.Fatalf("graph's jobs %d %v", len(list), err)
	}
}

func TestGraphFanOutFanInRunsEveryNodeOnceAfterItsParents(t *testing.T) {
	b := newBus(t)
	svc := jsonFake(t, `{"n": 1}`)
	b.start(t, testConfig(map[string]channel.Config{"work": svcConfig(svc.URL, 8)}))
	const width = 30
	var nodes, edges []string
	nodes = append(nodes, `"root": {"service": "work", "task": "split", "payload": "root"}`,
		`"sink": {"service": "work", "task": "join", "payload_from": "[.parents[].response.n] | add"}`)
	for i := range width {
		nodes = append(nodes, fmt.Sprintf(`"p%d": {"service": "work", "task": "page", "payload": %d}`, i, i))
		edges = append(edges, fmt.Sprintf(`["root", "p%d"], ["p%d", "sink"]`, i, i))
	}
	e := b.enqueueGraph(t, `{"graph": {"nodes": {`+strings.Join(nodes, ",")+`}, "edges": [`+strings.Join(edges, ",")+`]}}`)
	b.waitGraph(t, e.ID, graph.StateDone)
	if svc.count() != width+2 {
		t.Fatalf("%d calls, want %d", svc.count(), width+2)
	}
	last := svc.call(svc.count() - 1)
	if string(last.Body) != fmt.Sprint(width) {
		t.Fatalf("the sink ran last with %s, want the sum of its parents' results %d", last.Body, width)
	}
	for i := range width {
		if !last.At.After(b.doneAt(t, graph.JobID(e.ID, fmt.Sprintf("p%d", i)))) {
			t.Fatalf("sink called before p%d was recorded done", i)
		}
	}
	if n := b.count(t, events.StreamJobs, "jobs.work.page"); n != width {
		t.Fatalf("%d page jobs stored, want %d", n, width)
	}
}

func TestGraphRefusedWithNothingEnqueued(t *testing.T) {
	b := newBus(t)
	svc := jsonFake(t, `{}`)
	r := b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	_ = r
	known := func(s string) bool { return s == "ocr" }
	many := make([]string, 6)
	for i := range many {
		many[i] = fmt.Sprintf(`"n%d": {"service": "ocr", "task": "t"}`, i)
	}
	bad := []struct{ body, want string }{
		{`{"graph": {"nodes": {"a": {"service": "ocr", "task": "t"}, "b": {"service": "ocr", "task": "t"}}, "edges": [["a", "b"], ["b", "a"]]}}`, "cycle"},
		{`{"graph": {"nodes": {"a": {"service": "nope", "task": "t"}}}}`, `unknown service "nope"`},
		{`{"graph": {"nodes": {"a": {"service": "graph", "task": "t"}}}}`, "reserved"},
		{`{"graph": {"nodes": {` + strings.Join(many, ",") + `}}}`, "6 nodes, the most is 5"},
		{`{"graph": {"nodes": {"a": {"service": "ocr", "task": "t"}}, "edges": [["a", "z"]]}}`, "unknown node"},
		{`{"graph": {"nodes": {"a": {"service": "ocr", "task": "t"}}, "edges": [["a", "a"]]}}`, "itself"},
		{`{"graph": {"nodes": {"a": {"service": "ocr", "task": "t", "payload_from": ".parents | "}}}}`, "payload_from"},
		{`{"graph": {"nodes": {"` + strings.Repeat("x", 65) + `": {"service": "ocr", "task": "t"}}}}`, "nodes"},
		{`{"graph": {"nodes": {"a": {"odoo": {"model": "res.partner", "op": "write"}, "payload": {"values": {}}}}}}`, "odoo-cmd"},
		{`{"graph": {"nodes": {"a": {"service": "ocr", "task": "t", "result_subject": "odoo.cmd.res_partner.unlink"}}}}`, "result_subject"},
		{`{"graph": {"nodes": {"a": {"service": "ocr", "task": "t", "payload_from": "` + strings.Repeat(".", 4097) + `"}}}}`, "payload_from"},
	}
	for _, c := range bad {
		var body jobs.GraphBody
		if err := json.Unmarshal([]byte(c.body), &body); err != nil {
			t.Fatal(err)
		}
		_, err := jobs.EnqueueGraph(context.Background(), b.js, body.Graph, jobs.GraphLimits{MaxNodes: 5, Services: known})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("EnqueueGraph(%.80s) = %v, want an error about %s", c.body, err, c.want)
		}
	}
	if n := b.count(t, events.StreamJobs, "jobs.>"); n != 0 {
		t.Fatalf("%d messages enqueued by refused graphs", n)
	}
	// The same bodies published by hand are dead-lettered by the
	// dispatcher (max_nodes is its default, 1000, there) with no job.
	for i, c := range bad[:3] {
		ev := events.New(context.Background(), "/test", jobs.GraphType, []byte(c.body))
		b.publishEvent(t, fmt.Sprintf("jobs.graph.bad%d", i), ev)
	}
	hugeID := events.New(context.Background(), "/test", jobs.GraphType, []byte(`{"graph": {"nodes": {"a": {"service": "ocr", "task": "t"}}}}`))
	hugeID.ID = strings.Repeat("i", jobs.MaxGraphIDLen+1)
	b.publishEvent(t, "jobs.graph.long", hugeID)
	b.waitCount(t, events.StreamDLQ, "dlq.jobs-graph.>", 4)
	if list, err := jobs.List(context.Background(), b.js, jobstate.Filter{}); err != nil || len(list) != 0 {
		t.Fatalf("refused graphs left %d jobs (%v)", len(list), err)
	}
	// A good graph published by hand still runs.
	good := events.New(context.Background(), "/test", jobs.GraphType, []byte(`{"graph": {"nodes": {"a": {"service": "ocr", "task": "t", "payload": 1}, "b": {"service": "ocr", "task": "t", "payload": 2}}, "edges": [["a", "b"]]}}`))
	b.publishEvent(t, "jobs.graph.by-hand", good)
	b.waitGraph(t, good.ID, graph.StateDone)
	if svc.count() != 2 {
		t.Fatalf("%d calls", svc.count())
	}
}

func TestGraphDeadParentWaitsUntilRequeued(t *testing.T) {
	b := newBus(t)
	var fail atomic.Bool
	fail.Store(true)
	a := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if fail.Load() {
			reply(w, 422, `{"error": "bad page"}`)
			return
		}
		reply(w, 200, `{"ok": 1}`)
	})
	c := jsonFake(t, `{}`)
	b.start(t, testConfig(map[string]channel.Config{"a": svcConfig(a.URL, 1), "c": svcConfig(c.URL, 1)}))
	e := b.enqueueGraph(t, `{"graph": {"nodes": {"a": {"service": "a", "task": "t", "max_retries": 0}, "b": {"service": "c", "task": "t"}, "c": {"service": "c", "task": "t"}}, "edges": [["a", "b"], ["b", "c"]]}}`)
	v := b.waitGraph(t, e.ID, graph.StateBlocked)
	if nodeState(v, "b") != jobstate.WaitDependencies || nodeState(v, "c") != jobstate.WaitDependencies {
		t.Fatalf("descendants of a dead node: %s", v.Draw())
	}
	if !strings.Contains(v.Draw(), "422") {
		t.Fatalf("drawing shows no error:\n%s", v.Draw())
	}
	if _, err := jobs.Requeue(context.Background(), b.js, graph.JobID(e.ID, "b")); err == nil {
		t.Fatal("requeued a waiting node")
	}
	fail.Store(false)
	if _, err := jobs.Requeue(context.Background(), b.js, graph.JobID(e.ID, "a")); err != nil {
		t.Fatal(err)
	}
	b.waitGraph(t, e.ID, graph.StateDone)
	if c.count() != 2 {
		t.Fatalf("%d calls to b and c", c.count())
	}
	if _, err := jobs.Requeue(context.Background(), b.js, graph.JobID(e.ID, "a")); err == nil || !strings.Contains(err.Error(), "only a dead node") {
		t.Fatalf("requeued a done node: %v", err)
	}
}

func TestGraphCancelMarksEveryUnfinishedNode(t *testing.T) {
	b := newBus(t)
	held, release := newHeldFake(t, `{}`)
	other := jsonFake(t, `{}`)
	b.start(t, testConfig(map[string]channel.Config{"held": svcConfig(held.URL, 1), "other": svcConfig(other.URL, 1)}))
	eta := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e := b.enqueueGraph(t, `{"graph": {"nodes": {"a": {"service": "held", "task": "t"}, "b": {"service": "other", "task": "t"},
	  "later": {"service": "other", "task": "t", "eta": "`+eta+`"}, "after-later": {"service": "other", "task": "t"}},
	  "edges": [["a", "b"], ["later", "after-later"]]}}`)
	natstest.WaitFor(t, wait, "a called", func() bool { return held.count() == 1 })
	b.waitState(t, graph.JobID(e.ID, "later"), jobstate.Scheduled)
	c, err := graph.Cancel(context.Background(), b.js, e.ID)
	if err != nil || len(c.Jobs) != 4 {
		t.Fatalf("cancel %+v %v", c, err)
	}
	close(release)
	v := b.waitGraph(t, e.ID, graph.StateCancelled)
	b.waitState(t, graph.JobID(e.ID, "a"), jobstate.Done) // its call was under way: it finishes
	time.Sleep(300 * time.Millisecond)
	v, _ = graph.Load(context.Background(), b.js, e.ID)
	for _, n := range []string{"b", "later", "after-later"} {
		if nodeState(v, n) != jobstate.Cancelled {
			t.Fatalf("node %s: %s", n, v.Draw())
		}
	}
	if other.count() != 0 {
		t.Fatalf("%d calls after the cancel", other.count())
	}
	// A single pending job can be cancelled too, and its delivery is skipped.
	if _, err := graph.Cancel(context.Background(), b.js, graph.JobID(e.ID, "a")); err == nil {
		t.Fatal("cancelled a done job")
	}
}

// TestGraphCrashBetweenParentDoneAndChildStart stops a dispatcher as
// kill -9 would (its connection cut, nothing acknowledged) after a parent
// was recorded done and before its child is started. A new dispatcher
// gets the parent's message again, answers it from the result cache and
// starts the child: each node runs once.
func TestGraphCrashBetweenParentDoneAndChildStart(t *testing.T) {
	b := newBus(t)
	svc := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) { reply(w, 200, `{"path": "`+r.URL.Path+`"}`) })
	cfg := testConfig(map[string]channel.Config{"work": svcConfig(svc.URL, 2)})
	crashed, cont := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfgA := cfg
	cfgA.graphBeforeStart = func(ctx context.Context, _, node string) error {
		if node != "b" {
			return nil
		}
		once.Do(func() { close(crashed) })
		<-cont
		return errors.New("crashed")
	}
	a := b.startOwn(t, cfgA)
	e := b.enqueueGraph(t, `{"graph": {"nodes": {"a": {"service": "work", "task": "a"}, "b": {"service": "work", "task": "b", "payload_from": ".parents.a.response"}, "c": {"service": "work", "task": "c"}}, "edges": [["a", "b"], ["b", "c"]]}}`)
	<-crashed
	a.nc.Close() // as kill -9: nothing from here on reaches the server
	close(cont)
	_ = a.stop()
	if st := b.job(t, graph.JobID(e.ID, "a")).State; st != jobstate.Done {
		t.Fatalf("a is %s", st)
	}
	if st := b.job(t, graph.JobID(e.ID, "b")).State; st != jobstate.WaitDependencies {
		t.Fatalf("b is %s before the restart", st)
	}
	b.startOwn(t, cfg)
	b.waitGraph(t, e.ID, graph.StateDone)
	paths := map[string]int{}
	for i := range svc.count() {
		paths[svc.call(i).Header.Get("Idempotency-Key")]++
	}
	if svc.count() != 3 || len(paths) != 3 {
		t.Fatalf("%d calls, %d distinct keys: a node ran twice", svc.count(), len(paths))
	}
	if got := string(svc.call(1).Body); got != `{"path":"/a"}` {
		t.Fatalf("b's request %s", got)
	}
	for _, task := range []string{"a", "b", "c"} {
		if n := b.count(t, events.StreamJobs, "jobs.work."+task); n != 1 {
			t.Fatalf("%d messages for node %s", n, task)
		}
	}
}

// TestGraphCrashDuringChildCall cuts a dispatcher off while a child's call
// is under way. The call is made again (with the same Idempotency-Key, the
// service's answer never reached the hub) by the next dispatcher; its
// child starts once, after it.
func TestGraphCrashDuringChildCall(t *testing.T) {
	b := newBus(t)
	var calls sync.Map // task → count
	inB, releaseB := make(chan struct{}, 4), make(chan struct{})
	svc := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		n, _ := calls.LoadOrStore(r.URL.Path, new(atomic.Int64))
		if n.(*atomic.Int64).Add(1) == 1 && r.URL.Path == "/b" {
			inB <- struct{}{}
			select {
			case <-releaseB:
			case <-r.Context().Done():
			}
		}
		reply(w, 200, `{"ok": true}`)
	})
	cfg := testConfig(map[string]channel.Config{"work": svcConfig(svc.URL, 2)})
	a := b.startOwn(t, cfg)
	e := b.enqueueGraph(t, `{"graph": {"nodes": {"a": {"service": "work", "task": "a"}, "b": {"service": "work", "task": "b"}, "c": {"service": "work", "task": "c"}}, "edges": [["a", "b"], ["b", "c"]]}}`)
	<-inB
	a.kill()
	close(releaseB)
	b.startOwn(t, cfg)
	b.waitGraph(t, e.ID, graph.StateDone)
	count := func(p string) int64 { n, _ := calls.Load(p); return n.(*atomic.Int64).Load() }
	if count("/a") != 1 || count("/b") != 2 || count("/c") != 1 {
		t.Fatalf("calls a %d, b %d, c %d", count("/a"), count("/b"), count("/c"))
	}
	var keys []string
	for i := range svc.count() {
		keys = append(keys, svc.call(i).Header.Get("Idempotency-Key"))
	}
	if len(keys) != 4 || keys[1] != keys[2] {
		t.Fatalf("b's two calls had different Idempotency-Keys: %v", keys)
	}
	cCall := svc.call(svc.count() - 1)
	if !cCall.At.After(b.doneAt(t, graph.JobID(e.ID, "b"))) {
		t.Fatal("c was called before b was recorded done")
	}
}

// ownDispatcher is a dispatcher on a connection of its own, so a test can
// cut it off as a killed process would be.
type ownDispatcher struct {
	nc   *nats.Conn
	stop func() error
}

// kill cuts the dispatcher's connection (nothing more reaches the server:
// no ack, no nak, no write) and then stops it.
func (o *ownDispatcher) kill() {
	o.nc.Close()
	_ = o.stop()
}

func (b *bus) startOwn(t *testing.T, cfg Config) *ownDispatcher {
	t.Helper()
	return startOn(t, b.nc.ConnectedUrl(), cfg, stream.DefaultConfig())
}

func startOn(t *testing.T, url string, cfg Config, streams stream.Config) *ownDispatcher {
	t.Helper()
	nc, js := natstest.Connect(t, url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	deps := service.Deps{Conn: nc, JS: js, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(), Streams: streams}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, deps, cfg)
	if err != nil {
		cancel()
		t.Fatalf("new dispatcher: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() error {
		var err error
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return &ownDispatcher{nc: nc, stop: stop}
}

// TestGraphSurvivesALeaderChangeOnACluster runs a graph on three
// nats-servers with every stream and bucket at three replicas, and stops
// the node leading the jobs bucket while a node's call is under way.
func TestGraphSurvivesALeaderChangeOnACluster(t *testing.T) {
	c := natstest.RunCluster(t, "graphs", 3)
	streams := stream.DefaultConfig()
	streams.Replicas = 3
	nc, js := natstest.Connect(t, c.URLs())
	natstest.EnsureStreams(t, js, streams)
	_ = nc
	inB, releaseB := make(chan struct{}, 4), make(chan struct{})
	var bCalls atomic.Int64
	svc := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/b" && bCalls.Add(1) == 1 {
			inB <- struct{}{}
			<-releaseB
		}
		reply(w, 200, `{"ok": true}`)
	})
	startOn(t, c.URLs(), testConfig(map[string]channel.Config{"work": svcConfig(svc.URL, 4)}), streams)
	e, err := jobs.EnqueueGraph(context.Background(), js, parseGraph(t, `{"graph": {"nodes": {"a": {"service": "work", "task": "a"}, "b": {"service": "work", "task": "b"},
	  "c1": {"service": "work", "task": "c"}, "c2": {"service": "work", "task": "c"}, "d": {"service": "work", "task": "d"}},
	  "edges": [["a", "b"], ["b", "c1"], ["b", "c2"], ["c1", "d"], ["c2", "d"]]}}`), jobs.GraphLimits{})
	if err != nil {
		t.Fatal(err)
	}
	<-inB
	leader := c.StreamLeader("KV_" + events.BucketJobs)
	c.Stop(leader)
	close(releaseB)
	b := &bus{nc: nc, js: js}
	c.Restart(leader)
	b.waitGraph(t, e.ID, graph.StateDone)
	for _, task := range []string{"a", "b", "d"} {
		if n := b.count(t, events.StreamJobs, "jobs.work."+task); n != 1 {
			t.Fatalf("%d messages for node %s", n, task)
		}
	}
	if n := b.count(t, events.StreamJobs, "jobs.work.c"); n != 2 {
		t.Fatalf("%d messages for nodes c1, c2", n)
	}
	t.Logf("%d calls for 5 nodes (a call whose answer could not be recorded during the election is made again, with the same Idempotency-Key)", svc.count())
}

func TestGraphNodeWhoseRequestFailsIsDeadAndBlocksItsChildren(t *testing.T) {
	b := newBus(t)
	svc := jsonFake(t, `{"text": "line one\nline two"}`)
	b.start(t, testConfig(map[string]channel.Config{"ocr": svcConfig(svc.URL, 2)}))
	e := b.enqueueGraph(t, `{"graph": {"nodes": {"a": {"service": "ocr", "task": "t"},
	  "b": {"service": "ocr", "task": "t", "payload_from": "error(\"no total in \" + .parents.a.response.text)"},
	  "c": {"service": "ocr", "task": "t"}, "w": {"odoo": {"model": "res.partner", "op": "write"}, "payload_from": "{values: {}}"}},
	  "edges": [["a", "b"], ["b", "c"], ["a", "w"]]}}`)
	v := b.waitGraph(t, e.ID, graph.StateBlocked)
	natstest.WaitFor(t, wait, "w dead", func() bool {
		v, _ = graph.Load(context.Background(), b.js, e.ID)
		return nodeState(v, "w") == jobstate.Dead
	})
	if nodeState(v, "b") != jobstate.Dead || nodeState(v, "c") != jobstate.WaitDependencies || svc.count() != 1 {
		t.Fatalf("%d calls\n%s", svc.count(), v.Draw())
	}
	drawing := v.Draw()
	if !strings.Contains(drawing, "payload_from") || strings.Contains(drawing, "\nline two") || strings.Count(drawing, "\n") != 8 {
		t.Fatalf("drawing:\n%s", drawing)
	}
	if n := b.count(t, events.StreamOdooCmd, "odoo.cmd.>"); n != 0 {
		t.Fatalf("%d commands from an invalid Odoo node", n)
	}
	// Requeueing the graph makes both wait again and publishes the graph
	// once more: the dispatcher tries them again (and they fail again).
	before := b.job(t, graph.JobID(e.ID, "b")).UpdatedAt
	rq, err := graph.Requeue(context.Background(), b.js, e.ID)
	if err != nil || len(rq.Reset) != 2 || len(rq.Requeued) != 0 {
		t.Fatalf("requeue %+v %v", rq, err)
	}
	natstest.WaitFor(t, wait, "b tried again", func() bool {
		r := b.job(t, graph.JobID(e.ID, "b"))
		return r.State == jobstate.Dead && r.UpdatedAt.After(before)
	})
	if svc.count() != 1 {
		t.Fatalf("a ran again: %d calls", svc.count())
	}
	// A good graph after it still runs.
	ok := b.enqueueGraph(t, `{"graph": {"nodes": {"a": {"service": "ocr", "task": "t"}, "b": {"service": "ocr", "task": "t", "payload_from": ".parents.a.response.text"}}, "edges": [["a", "b"]]}}`)
	b.waitGraph(t, ok.ID, graph.StateDone)
}

func TestGraphNodeOptionsApplyPerNode(t *testing.T) {
	b := newBus(t)
	var fails atomic.Int64
	svc := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flaky" && fails.Add(1) <= 2 {
			reply(w, 503, `{"error": "busy"}`)
			return
		}
		reply(w, 200, `{}`)
	})
	b.start(t, testConfig(map[string]channel.Config{"work": svcConfig(svc.URL, 2)}))
	// Another job holds identity_key "page-7": the node with that key is cancelled.
	b.enqueue(t, "work", "other", jobs.Job{IdentityKey: "page-7"})
	e := b.enqueueGraph(t, `{"graph": {"nodes": {
	  "flaky": {"service": "work", "task": "flaky", "max_retries": 2, "retry_pattern": {"1": 0.05}},
	  "dup": {"service": "work", "task": "dup", "identity_key": "page-7"},
	  "own": {"service": "work", "task": "own", "identity_key": "graph-own-key"}}}}`)
	flaky := b.waitState(t, graph.JobID(e.ID, "flaky"), jobstate.Done)
	if flaky.Attempts != 3 {
		t.Fatalf("flaky took %d attempts, want 3 (max_retries 2)", flaky.Attempts)
	}
	dup := b.waitState(t, graph.JobID(e.ID, "dup"), jobstate.Cancelled)
	if !strings.Contains(dup.LastError, `identity_key "page-7"`) {
		t.Fatalf("dup: %+v", dup)
	}
	b.waitState(t, graph.JobID(e.ID, "own"), jobstate.Done)
	if n := b.count(t, events.StreamJobs, "jobs.work.dup"); n != 0 {
		t.Fatalf("%d messages for the duplicate node", n)
	}
}
