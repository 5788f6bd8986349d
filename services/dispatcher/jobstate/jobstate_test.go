package jobstate

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/nats-io/nats.go/jetstream"
)

func open(t *testing.T, retention time.Duration) (*Store, jetstream.JetStream) {
	t.Helper()
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	s, err := Open(context.Background(), js, stream.DefaultConfig(), retention)
	if err != nil {
		t.Fatal(err)
	}
	return s, js
}

func TestCreateDoesNotOverwriteAndPutDoes(t *testing.T) {
	s, _ := open(t, time.Hour)
	ctx := context.Background()
	r := Record{ID: "j1", Service: "ocr", Task: "extract", State: Pending}
	if created, err := s.Create(ctx, r); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	r.State = Started
	if created, err := s.Create(ctx, r); err != nil || created {
		t.Fatalf("second create: %v %v", created, err)
	}
	if got, _ := s.Get(ctx, "j1"); got.State != Pending || got.CreatedAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
	if err := s.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "j1"); got.State != Started {
		t.Fatalf("got %+v", got)
	}
	for _, id := range []string{"nope", "bad key", ""} {
		if _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get %q: %v", id, err)
		}
	}
	if err := s.Put(ctx, Record{ID: "bad key"}); err == nil {
		t.Fatal("put with an invalid id")
	}
	if _, err := s.Create(ctx, Record{ID: ".x"}); err == nil {
		t.Fatal("create with an invalid id")
	}
}

func TestFinishedRecordsRollUpAndExpire(t *testing.T) {
	s, js := open(t, time.Second)
	ctx := context.Background()
	for _, st := range []State{Pending, Started, Failed, Started} {
		if err := s.Put(ctx, Record{ID: "j1", Service: "ocr", Task: "t", State: st, LastError: "e"}); err != nil {
			t.Fatal(err)
		}
	}
	kv, _ := js.KeyValue(ctx, events.BucketJobs)
	if h, _ := kv.History(ctx, "j1"); len(h) != 4 {
		t.Fatalf("history while running: %d", len(h))
	}
	if err := s.Put(ctx, Record{ID: "j1", Service: "ocr", Task: "t", State: Done, DoneAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if h, _ := kv.History(ctx, "j1"); len(h) != 1 {
		t.Fatalf("history once done: %d revisions", len(h))
	}
	if err := s.Put(ctx, Record{ID: "j2", Service: "ocr", Task: "t", State: Pending}); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, 10*time.Second, "the done record to expire", func() bool {
		_, err := s.Get(ctx, "j1")
		return errors.Is(err, ErrNotFound)
	})
	if _, err := s.Get(ctx, "j2"); err != nil {
		t.Fatalf("a pending record expired: %v", err)
	}
	if l, _ := s.List(ctx, Filter{}); len(l) != 1 || l[0].ID != "j2" {
		t.Fatalf("list after expiry: %+v", l)
	}
}

func TestPutAsyncReplacesTheHistoryOnlyWhenAsked(t *testing.T) {
	s, js := open(t, time.Hour)
	ctx := context.Background()
	kv, _ := js.KeyValue(ctx, events.BucketJobs)
	put := func(st State, replace bool) {
		t.Helper()
		p, err := s.PutAsync(ctx, Record{ID: "j1", Service: "ocr", Task: "t", State: st}, replace)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		state    State
		replace  bool
		revision int
	}{
		{Pending, false, 1},
		{Started, true, 1}, // the first attempt replaces the pending record
		{Failed, false, 2},
		{Started, false, 3},
		{Done, false, 1}, // finished: rolled up whatever replace says
	} {
		put(tc.state, tc.replace)
		if h, _ := kv.History(ctx, "j1"); len(h) != tc.revision {
			t.Fatalf("after %s (replace %v): %d revisions, want %d", tc.state, tc.replace, len(h), tc.revision)
		}
	}
	if got, _ := s.Get(ctx, "j1"); got.State != Done {
		t.Fatalf("got %+v", got)
	}
	if _, err := s.PutAsync(ctx, Record{ID: "bad key", State: Started}, true); err == nil {
		t.Fatal("async put with an invalid id")
	}
}

func TestListFiltersAndOrders(t *testing.T) {
	s, js := open(t, 0)
	ctx := context.Background()
	base := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	for i, st := range []State{Pending, Done, Dead, Done} {
		svc := "ocr"
		if i == 3 {
			svc = "llm"
		}
		r := Record{ID: fmt.Sprintf("j%d", i), Service: svc, Task: "t", State: st, CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	kv, _ := js.KeyValue(ctx, events.BucketJobs)
	if _, err := kv.Put(ctx, "garbage", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	ids := func(f Filter) string {
		l, err := s.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, r := range l {
			out += r.ID + " "
		}
		return out
	}
	tests := map[string]struct {
		f    Filter
		want string
	}{
		"all newest first": {Filter{}, "j3 j2 j1 j0 "},
		"by state":         {Filter{State: Done}, "j3 j1 "},
		"by service":       {Filter{Service: "ocr"}, "j2 j1 j0 "},
		"both":             {Filter{State: Done, Service: "ocr"}, "j1 "},
		"limit":            {Filter{Limit: 2}, "j3 j2 "},
		"none":             {Filter{State: Failed}, ""},
	}
	for name, tc := range tests {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.List(cctx, Filter{}); err == nil {
		t.Fatal("list with a cancelled ctx")
	}
}

func TestRecordsMatchTheirSchema(t *testing.T) {
	now := time.Now().UTC()
	recs := []Record{
		{ID: "a", Service: "ocr", Task: "t", State: Pending, CreatedAt: now, UpdatedAt: now, RequestSubject: "jobs.ocr.t", RequestSeq: 1},
		{ID: "a", Service: "ocr", Task: "t", State: Scheduled, CreatedAt: now, UpdatedAt: now, ETA: now, IdentityKey: "k"},
		{ID: "a", Service: "ocr", Task: "t", State: Started, Attempts: 1, MaxAttempts: 3, CreatedAt: now, UpdatedAt: now, StartedAt: now},
		{ID: "a", Service: "ocr", Task: "t", State: Failed, Attempts: 1, LastError: "503", CreatedAt: now, UpdatedAt: now, ETA: now},
		{ID: "a", Service: "ocr", Task: "t", State: Done, Attempts: 2, CreatedAt: now, UpdatedAt: now, DoneAt: now, ResultSubject: "results.ocr.t", ResultSeq: 9},
		{ID: "a", Service: "ocr", Task: "t", State: Dead, Attempts: 2, CreatedAt: now, UpdatedAt: now, DoneAt: now, LastError: "422"},
		{ID: "g.n", Service: "ocr", Task: "t", State: WaitDependencies, CreatedAt: now, UpdatedAt: now, Graph: "g", Node: "n"},
		{ID: "g.n", Service: "ocr", Task: "t", State: Cancelled, CreatedAt: now, UpdatedAt: now, DoneAt: now, Graph: "g", Node: "n", LastError: "cancelled by an operator"},
	}
	for _, r := range recs {
		if err := schemas.ValidateValue("job-state", r); err != nil {
			t.Errorf("%s: %v", r.State, err)
		}
	}
	for _, st := range States {
		if !st.Valid() || st.Finished() != (st == Done || st == Dead || st == Cancelled) {
			t.Errorf("state %s", st)
		}
	}
	if State("enqueued").Valid() {
		t.Error("enqueued is not a state")
	}
}

func TestBindNeedsTheBucket(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if _, err := Bind(context.Background(), js); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestLongErrorsAreClipped(t *testing.T) {
	s, _ := open(t, 0)
	long := make([]byte, 10000)
	for i := range long {
		long[i] = 'e'
	}
	if err := s.Put(context.Background(), Record{ID: "j", Service: "s", Task: "t", State: Failed, LastError: string(long)}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Get(context.Background(), "j"); len(r.LastError) > maxLastError+4 {
		t.Fatalf("last error %d bytes", len(r.LastError))
	}
}
