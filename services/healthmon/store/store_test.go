package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/nats-io/nats.go/jetstream"
)

func setup(t *testing.T, withStreams bool) (*Store, jetstream.JetStream) {
	t.Helper()
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if withStreams {
		natstest.EnsureStreams(t, js)
	}
	return New(js, stream.DefaultConfig()), js
}

func record(target string, s status.Status, at time.Time) Record {
	return Record{Target: target, Kind: "http", Status: s, LatencyMS: 12.5, Message: "m", CheckedAt: at, Since: at,
		Details: map[string]any{"http_status": 200}}
}

func TestPutKeepsLatestAndHistory(t *testing.T) {
	s, js := setup(t, false)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, st := range []status.Status{status.OK, status.Warning, status.Down} {
		r := record("http-ocr", st, t0.Add(time.Duration(i)*time.Minute))
		if err := schemas.ValidateValue("health-status", r); err != nil {
			t.Fatalf("record does not match its schema: %v", err)
		}
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got["http-ocr"].Status != status.Down || len(got) != 1 {
		t.Fatalf("load = %+v", got)
	}
	hist, err := s.History(ctx, "http-ocr")
	if err != nil || len(hist) != 3 || hist[0].Status != status.OK {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	kv, err := js.KeyValue(ctx, events.BucketHealth)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil || st.History() != History {
		t.Fatalf("bucket history = %d, %v", st.History(), err)
	}
	if err := s.Delete(ctx, "http-ocr"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx); len(got) != 0 {
		t.Fatalf("deleted target loaded: %+v", got)
	}
	if h, err := s.History(ctx, "never-there"); err != nil || len(h) != 0 {
		t.Fatalf("history of a target never stored: %v %v", h, err)
	}
	if err := s.Delete(ctx, "never-there"); err != nil {
		t.Fatalf("deleting an unknown target: %v", err)
	}
}

func TestLoadSkipsValuesThatDoNotDecode(t *testing.T) {
	s, js := setup(t, false)
	ctx := context.Background()
	if err := s.Put(ctx, record("nats", status.OK, time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	kv, _ := js.KeyValue(ctx, events.BucketHealth)
	if _, err := kv.Put(ctx, "by-hand", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx)
	if err != nil || len(got) != 1 || got["nats"].Status != status.OK {
		t.Fatalf("load = %+v, %v", got, err)
	}
}

func TestPublishIsStableAndMatchesTheSchema(t *testing.T) {
	s, js := setup(t, true)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev, dur := t0.Add(-time.Hour), 3600000.0
	tr := Transition{Target: "odoo-main", Status: status.Down, Previous: status.OK, Since: t0, PreviousSince: &prev,
		DurationInPreviousMS: &dur, Reason: "refused", LatencyMS: 0.4, CheckedAt: t0}
	if err := schemas.ValidateValue("health-transition", tr); err != nil {
		t.Fatalf("transition does not match its schema: %v", err)
	}
	id, err := s.Publish(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	if id2, err := s.Publish(ctx, tr); err != nil || id2 != id {
		t.Fatalf("again: %s %v", id2, err)
	}
	st, err := js.Stream(ctx, events.StreamHealth)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("the same transition was stored %d times", info.State.Msgs)
	}
	m, err := st.GetLastMsgForSubject(ctx, "health.odoo-main.down")
	if err != nil {
		t.Fatal(err)
	}
	e := events.FromMsg(m.Header, m.Data)
	if e.ID != id || e.Type != EventType || e.Source != EventSource || e.CorrelationID != id || e.Subject != "odoo-main" ||
		m.Header.Get(events.HeaderMsgID) != id {
		t.Fatalf("envelope = %+v", e)
	}
	var body Transition
	if err := json.Unmarshal(m.Data, &body); err != nil || body.Previous != status.OK {
		t.Fatalf("body = %s", m.Data)
	}
	if err := schemas.Validate("health-transition", m.Data); err != nil {
		t.Fatal(err)
	}
}

func TestFailuresAreErrors(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	s := New(js, stream.DefaultConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// No HEALTH stream: nothing stores the transition.
	if _, err := s.Publish(ctx, Transition{Target: "x", Status: status.OK, Previous: status.Unknown}); err == nil {
		t.Fatal("published without a HEALTH stream")
	}
	natstest.Shutdown(srv)
	for name, f := range map[string]func() error{
		"put":     func() error { return s.Put(ctx, record("x", status.OK, time.Now())) },
		"delete":  func() error { return s.Delete(ctx, "x") },
		"load":    func() error { _, err := s.Load(ctx); return err },
		"history": func() error { _, err := s.History(ctx, "x"); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s succeeded with NATS down", name)
		}
	}
}
