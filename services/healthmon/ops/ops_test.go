package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/nats-io/nats.go/jetstream"
)

// counter records how often a route's handler saw each stream sequence.
type counter struct {
	mu   sync.Mutex
	seen map[uint64]int
	fail func(m *consume.Msg) error
}

func (c *counter) handle(ctx context.Context, m *consume.Msg) error {
	c.mu.Lock()
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		if err := fail(m); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[m.Seq()]++
	return nil
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.seen {
		n += v
	}
	return n
}

type env struct {
	js jetstream.JetStream
}

func setup(t *testing.T) *env {
	t.Helper()
	old := consume.ReplayPoll
	consume.ReplayPoll = 100 * time.Millisecond
	t.Cleanup(func() { consume.ReplayPoll = old })
	return &env{js: natstest.RunHub(t).JS}
}

// route creates a route consumer and runs it with the standard chain.
func (e *env) route(t *testing.T, name string, subjects ...string) *counter {
	t.Helper()
	ctx := context.Background()
	if _, err := stream.EnsureConsumer(ctx, e.js, stream.ConsumerOptions{Name: name, Stream: events.StreamGitHub, Subjects: subjects}); err != nil {
		t.Fatal(err)
	}
	c := &counter{seen: map[uint64]int{}}
	log := slog.New(slog.DiscardHandler)
	l := &consume.Loop{JS: e.js, Stream: events.StreamGitHub, Consumer: name, PollWait: 100 * time.Millisecond, Logger: log,
		Handler: consume.Chain(c.handle, consume.Standard(log, nil, consume.DeadLetter{JS: e.js},
			consume.Retry{MaxAttempts: 2, InitialInterval: 10 * time.Millisecond})...)}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- consume.RunRoute(rctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func (e *env) publish(t *testing.T, subject string, body string) string {
	t.Helper()
	ev := events.New(context.Background(), "test", "dev.pulsehub.test", []byte(body))
	if _, err := e.js.PublishMsg(context.Background(), ev.Msg(subject)); err != nil {
		t.Fatal(err)
	}
	return ev.ID
}

func TestReplayDeliversAgainToOneRouteOnly(t *testing.T) {
	e := setup(t)
	issues := e.route(t, "issues", "github.issues.*")
	all := e.route(t, "all", "github.>")
	for i := 0; i < 5; i++ {
		e.publish(t, "github.issues.opened", `{}`)
		e.publish(t, "github.push.none", `{}`)
	}
	natstest.WaitFor(t, 10*time.Second, "first deliveries", func() bool { return issues.total() == 5 && all.total() == 10 })

	plan, err := Replay(context.Background(), e.js, ReplayRequest{Route: "issues", FromSeq: 1, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Count != 5 || plan.Subjects["github.issues.opened"] != 5 || len(plan.Subjects) != 1 || plan.EndSeq != 10 {
		t.Fatalf("dry run plan = %+v", plan)
	}
	time.Sleep(3 * consume.ReplayPoll) // a dry run must deliver nothing: give a watcher the chance to (wrongly) act
	if issues.total() != 5 {
		t.Fatalf("dry run delivered: %d", issues.total())
	}

	plan, err = Replay(context.Background(), e.js, ReplayRequest{Route: "issues", Since: time.Hour})
	if err != nil || plan.Count != 5 || plan.Consumer != "issues-replay" {
		t.Fatalf("plan = %+v, err = %v", plan, err)
	}
	e.publish(t, "github.issues.opened", `{"live":true}`) // after the replay was asked: handled once, by the route itself
	natstest.WaitFor(t, 10*time.Second, "replayed deliveries", func() bool { return issues.total() == 11 })
	natstest.WaitFor(t, 10*time.Second, "the replay consumer removed", func() bool {
		_, err := e.js.Consumer(context.Background(), events.StreamGitHub, "issues-replay")
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
	if all.total() != 11 {
		t.Fatalf("another route saw the replay: %d deliveries", all.total())
	}
	issues.mu.Lock()
	defer issues.mu.Unlock()
	if issues.seen[11] != 1 || issues.seen[1] != 2 {
		t.Fatalf("deliveries per seq = %v", issues.seen)
	}
}

func TestReplayErrorsSayWhatToDo(t *testing.T) {
	e := setup(t)
	e.route(t, "issues", "github.issues.*")
	e.publish(t, "github.issues.opened", `{}`)
	ctx := context.Background()
	if _, err := Replay(ctx, e.js, ReplayRequest{Route: "nope", FromSeq: 1}); err == nil || !strings.Contains(err.Error(), "hub status") {
		t.Fatalf("unknown route: %v", err)
	}
	if _, err := Replay(ctx, e.js, ReplayRequest{Route: "issues", FromSeq: 1, Subject: "github.push.*"}); err == nil || !strings.Contains(err.Error(), "not among") {
		t.Fatalf("foreign subject: %v", err)
	}
	if _, err := Replay(ctx, e.js, ReplayRequest{Route: "issues"}); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Fatalf("no start: %v", err)
	}
	// Hold the replay consumer so it cannot drain, then ask again.
	if _, err := e.js.CreateConsumer(ctx, events.StreamGitHub, jetstream.ConsumerConfig{Durable: "issues-replay", FilterSubject: "github.issues.*", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := Replay(ctx, e.js, ReplayRequest{Route: "issues", FromSeq: 1}); !errors.Is(err, ErrReplayRunning) || !strings.Contains(err.Error(), "nats consumer rm GITHUB issues-replay") {
		t.Fatalf("running replay: %v", err)
	}
	plan, err := Replay(ctx, e.js, ReplayRequest{Route: "issues", FromTime: time.Now().Add(time.Hour), DryRun: true})
	if err != nil || plan.Count != 0 {
		t.Fatalf("future start: %+v %v", plan, err)
	}
}

func TestDLQListShowRequeuePurge(t *testing.T) {
	e := setup(t)
	issues := e.route(t, "issues", "github.issues.*")
	other := e.route(t, "other", "github.>")
	var broken atomic.Bool
	broken.Store(true)
	issues.fail = func(m *consume.Msg) error {
		if broken.Load() && strings.Contains(string(m.Data()), "bad") {
			return events.Permanentf("ValidationError: name is required")
		}
		return nil
	}
	id := e.publish(t, "github.issues.opened", `{"bad":true}`)
	e.publish(t, "github.issues.opened", `{}`)
	natstest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { d, _ := stream.DLQDepth(context.Background(), e.js, "issues"); return d == 1 })
	ctx := context.Background()
	list, err := ListDLQ(ctx, e.js, "issues", 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("list = %v %v", list, err)
	}
	d := list[0]
	if d.Route != "issues" || d.OriginSubject != "github.issues.opened" || d.OriginSeq != 1 || d.EventID != id || d.Kind != "permanent" ||
		!strings.Contains(d.Reason, "name is required") || d.Attempts != 1 || d.DeadLetterInfo.Time.IsZero() {
		t.Fatalf("dead letter = %+v", d)
	}
	validHeaders(t, "dlq", d.Headers)
	if all, _ := ListDLQ(ctx, e.js, "", 0); len(all) != 1 {
		t.Fatalf("all = %v", all)
	}
	if got, err := GetDLQ(ctx, e.js, d.Seq); err != nil || string(got.Data) != `{"bad":true}` {
		t.Fatalf("show = %+v %v", got, err)
	}
	if _, err := GetDLQ(ctx, e.js, 999); err == nil || !strings.Contains(err.Error(), "hub dlq ls") {
		t.Fatalf("missing: %v", err)
	}
	natstest.WaitFor(t, 10*time.Second, "the other route done", func() bool { return other.total() == 2 })

	dry, err := Requeue(ctx, e.js, list, true)
	if err != nil || len(dry) != 1 || !dry[0].DryRun {
		t.Fatalf("dry = %v %v", dry, err)
	}
	broken.Store(false) // the cause is fixed
	res, err := Requeue(ctx, e.js, list, false)
	if err != nil || len(res) != 1 || res[0].Duplicate || res[0].Stream != events.StreamGitHub {
		t.Fatalf("requeue = %+v %v", res, err)
	}
	natstest.WaitFor(t, 10*time.Second, "the requeued event applied", func() bool { return issues.total() == 2 })
	if left, _ := ListDLQ(ctx, e.js, "issues", 0); len(left) != 0 {
		t.Fatalf("dead letter still listed: %v", left)
	}
	again, err := Requeue(ctx, e.js, list, false)
	if err != nil || !again[0].Duplicate {
		t.Fatalf("second requeue of the same dead letter: %+v %v", again, err)
	}
	time.Sleep(300 * time.Millisecond) // let a wrong delivery show up, if any
	if other.total() != 2 || issues.total() != 2 {
		t.Fatalf("requeue reached other routes or ran twice: other %d, issues %d", other.total(), issues.total())
	}

	broken.Store(true)
	e.publish(t, "github.issues.opened", `{"bad":2}`)
	natstest.WaitFor(t, 10*time.Second, "another dead letter", func() bool { d, _ := stream.DLQDepth(ctx, e.js, "issues"); return d == 1 })
	if n, err := PurgeDLQ(ctx, e.js, "issues"); err != nil || n != 1 {
		t.Fatalf("purge = %d %v", n, err)
	}
	if _, err := PurgeDLQ(ctx, e.js, ""); err == nil {
		t.Fatal("purge without a route")
	}
}

// validHeaders checks a message's headers, written as the schemas write
// them (name → one string), against schema name.
func validHeaders(t *testing.T, name string, h map[string][]string) {
	t.Helper()
	doc := make(map[string]string, len(h))
	for k, v := range h {
		doc[k] = strings.Join(v, ",")
	}
	if err := schemas.ValidateValue(name, doc); err != nil {
		t.Fatal(err)
	}
}

// The dead-letter schema requires exactly the headers the consume loop
// always writes.
func TestDLQSchemaRequiresTheDeadLetterHeaders(t *testing.T) {
	b, _ := schemas.Schema("dlq")
	var sch struct {
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(b, &sch); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(sch.Required)), slices.Sorted(slices.Values(consume.DeadLetterHeaders))) {
		t.Fatalf("schema dlq requires %v, consume.DeadLetterHeaders lists %v", sch.Required, consume.DeadLetterHeaders)
	}
}

func TestStatusShowsStreamsRoutesAndServices(t *testing.T) {
	e := setup(t)
	e.route(t, "issues", "github.issues.*")
	e.publish(t, "github.issues.opened", `{}`)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
		fmt.Fprint(w, `{"status":"fail"}`)
	}))
	defer bad.Close()
	st, err := GetStatus(context.Background(), e.js, map[string]string{"a": ok.URL, "b": bad.URL, "c": "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Streams) != 7 || st.Streams[0].Name != "GITHUB" || st.Streams[0].Msgs != 1 {
		t.Fatalf("streams = %+v", st.Streams)
	}
	if len(st.Routes) != 1 || st.Routes[0].Route != "issues" {
		t.Fatalf("routes = %+v", st.Routes)
	}
	want := []string{"ok", "fail", "unreachable"}
	for i, s := range st.Services {
		if s.Status != want[i] {
			t.Errorf("service %s = %s, want %s", s.Name, s.Status, want[i])
		}
	}
}

func TestCovers(t *testing.T) {
	cases := []struct {
		filters []string
		subject string
		want    bool
	}{
		{[]string{"github.issues.*"}, "github.issues.opened", true},
		{[]string{"github.issues.*"}, "github.issues.*", true},
		{[]string{"github.issues.*"}, "github.issues.>", false},
		{[]string{"github.>"}, "github.issues.>", true},
		{[]string{"github.>"}, "github", false},
		{[]string{"github.issues.opened"}, "github.issues.*", false},
		{[]string{"a.b", "github.*.opened"}, "github.push.opened", true},
		{nil, "anything", true},
	}
	for _, c := range cases {
		if got := coveredBy(c.subject, c.filters); got != c.want {
			t.Errorf("coveredBy(%q, %v) = %v", c.subject, c.filters, got)
		}
	}
}
