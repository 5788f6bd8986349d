package monitor

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
	"github.com/insightpulse/pulsehub/services/healthmon/store"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

func TestOneBadProbeDoesNotFlipTwoDo(t *testing.T) {
	e := newEnv(t, false)
	svc := newFakeService(t)
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{"svc": {URL: svc.srv.URL + "/health"}}
	m := newMonitor(t, e, c)
	ctx := context.Background()

	m.RunOnce(ctx) // first result: unknown → ok at once
	svc.code.Store(500)
	m.RunOnce(ctx) // one bad probe: still ok
	if s := statusOf(m, "http-svc"); s != status.OK {
		t.Fatalf("one bad probe flipped the status to %s", s)
	}
	if n := len(transitions(t, e.js, "http-svc")); n != 1 {
		t.Fatalf("%d transitions after one bad probe, want 1 (the first ok)", n)
	}
	m.RunOnce(ctx) // the second agrees: critical
	m.RunOnce(ctx) // and stays critical, with no new event
	if s := statusOf(m, "http-svc"); s != status.Critical {
		t.Fatalf("two bad probes left the status %s", s)
	}

	hist := history(t, e.js, "http-svc")
	want := []status.Status{status.OK, status.OK, status.Critical, status.Critical}
	if len(hist) != len(want) {
		t.Fatalf("history has %d values, want %d", len(hist), len(want))
	}
	for i, r := range hist {
		if r.Status != want[i] || r.Kind != "http" {
			t.Errorf("history[%d] = %s %s, want %s", i, r.Status, r.Kind, want[i])
		}
		if err := schemas.ValidateValue("health-status", r); err != nil {
			t.Errorf("history[%d]: %v", i, err)
		}
	}
	if hist[1].Details["probe_status"] != "critical" || hist[1].Details["agreeing_results"] != 1.0 || !hist[1].Since.Equal(hist[0].Since) {
		t.Errorf("the unconfirmed value does not say what the probe saw: %+v", hist[1])
	}
	if !hist[2].Since.Equal(hist[1].CheckedAt) {
		t.Errorf("critical since %s, want the first probe that saw it (%s)", hist[2].Since, hist[1].CheckedAt)
	}

	msgs := transitions(t, e.js, "http-svc")
	if len(msgs) != 2 || msgs[0].Subject != "health.http-svc.ok" || msgs[1].Subject != "health.http-svc.critical" {
		t.Fatalf("transitions = %v", subjects(msgs))
	}
	var first, second store.Transition
	for i, dst := range []*store.Transition{&first, &second} {
		if err := schemas.Validate("health-transition", msgs[i].Data); err != nil {
			t.Fatalf("transition %d: %v", i, err)
		}
		if err := json.Unmarshal(msgs[i].Data, dst); err != nil {
			t.Fatal(err)
		}
		ev := events.FromMsg(msgs[i].Header, msgs[i].Data)
		if ev.ID != store.TransitionID(*dst) || msgs[i].Header.Get(events.HeaderMsgID) != ev.ID ||
			ev.Type != store.EventType || ev.Source != store.EventSource {
			t.Errorf("transition %d envelope = %+v", i, ev)
		}
	}
	if first.Previous != status.Unknown || second.Previous != status.OK || second.PreviousSince == nil ||
		!second.PreviousSince.Equal(first.Since) || second.DurationInPreviousMS == nil ||
		*second.DurationInPreviousMS != store.Millis(second.Since.Sub(first.Since)) || second.Reason == "" {
		t.Fatalf("transitions: %+v then %+v", first, second)
	}
}

func subjects(msgs []jetstream.RawStreamMsg) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Subject)
	}
	return out
}

func TestRestartRemembersStatusAndAnnouncesNothingNew(t *testing.T) {
	e := newEnv(t, false)
	svc := newFakeService(t)
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{"svc": {URL: svc.srv.URL}}
	ctx := context.Background()
	newMonitor(t, e, c).RunOnce(ctx)
	before := history(t, e.js, "http-svc")

	e.deps.Registry = prometheus.NewRegistry()
	again := newMonitor(t, e, c)
	again.restore(ctx)
	again.RunOnce(ctx)
	after := history(t, e.js, "http-svc")
	if n := len(transitions(t, e.js, "http-svc")); n != 1 {
		t.Fatalf("a restart announced the status again: %d transitions", n)
	}
	if len(after) != 2 || !after[1].Since.Equal(before[0].Since) {
		t.Fatalf("since was not kept across the restart: %+v", after)
	}
}

func TestTransitionPublishedOnceHEALTHExists(t *testing.T) {
	e := newEnv(t, true) // no streams yet: the bucket is made on demand, the HEALTH stream is missing
	svc := newFakeService(t)
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{"svc": {URL: svc.srv.URL}}
	m := newMonitor(t, e, c)
	ctx := context.Background()
	m.RunOnce(ctx)
	if got := history(t, e.js, "http-svc"); len(got) != 1 {
		t.Fatalf("history = %+v", got)
	}
	if n := counterValue(m.metrics.errors.WithLabelValues("publish")); n < 1 {
		t.Fatalf("publish failure not counted: %v", n)
	}
	natstest.EnsureStreams(t, e.js)
	m.RunOnce(ctx) // the waiting transition goes out with the next result
	msgs := transitions(t, e.js, "http-svc")
	if len(msgs) != 1 || msgs[0].Subject != "health.http-svc.ok" {
		t.Fatalf("transitions = %v", subjects(msgs))
	}
}
