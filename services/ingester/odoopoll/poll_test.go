package odoopoll_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/ingester/checkpoint"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/insightpulse/pulsehub/services/ingester/odoopoll"
)

var t0 = time.Date(2026, 11, 22, 5, 14, 39, 350509000, time.UTC)

// env is a fake Odoo with a settable clock, JetStream with the hub's
// streams, and a poller factory for source "partners".
type env struct {
	clk   *ingesttest.Clock
	fake  *odootest.Server
	nats  *ingesttest.NATS
	store *checkpoint.Store
	pub   *intake.Publisher
	log   *ingesttest.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clk: ingesttest.NewClock(t0.Add(-3 * time.Hour)), nats: ingesttest.StartNATS(t), log: &ingesttest.Buffer{}}
	e.fake = odootest.New(t, odootest.WithClock(e.clk.Now))
	e.clk.Set(t0) // the records every database has were written long before
	deps := e.nats.Deps(t, e.log)
	store, err := checkpoint.Open(t.Context(), deps.JS, deps.Streams)
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	e.pub = &intake.Publisher{Conn: deps.Conn, JS: deps.JS, Timeout: 5 * time.Second}
	return e
}

func (e *env) poller(t *testing.T, pageSize int) *odoopoll.Poller {
	t.Helper()
	client, err := odoo.New(e.fake.Config(odoo.TransportXMLRPC))
	if err != nil {
		t.Fatal(err)
	}
	return &odoopoll.Poller{
		Source: odoopoll.Source{Name: "partners", Model: "res.partner", URI: e.fake.URL,
			Fields: []string{"name", "parent_id", "category_id", "write_date"}, PageSize: pageSize},
		Odoo: client, Publish: e.pub, Checkpoints: e.store, Log: slog.New(slog.NewJSONHandler(e.log, nil)), Now: e.clk.Now,
	}
}

// insert creates a partner at the clock's time.
func (e *env) insert(t *testing.T, name string) int64 {
	t.Helper()
	id, err := e.fake.Insert("res.partner", map[string]any{"name": name})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPollStoresWhatTheWebhookMissedWithTheWebhooksID(t *testing.T) {
	e := newEnv(t)
	cfg := ingester.DefaultConfig()
	cfg.GitHub.Enabled = false
	cfg.Odoo = map[string]odoo.Config{"main": e.fake.Config(odoo.TransportXMLRPC)}
	cfg.OdooSources = map[string]ingester.OdooSource{"partners": {Token: config.NewSecret("0123456789abcdef"), Model: "res.partner", Instance: "main"}}
	ing := ingesttest.Serve(t, e.nats, cfg)
	_, js := e.nats.Client(t)

	delivered := e.insert(t, "Delivered Co")
	e.clk.Add(300 * time.Millisecond)
	missed := e.insert(t, "Missed Co")
	e.clk.Add(1200 * time.Millisecond)
	parent := e.insert(t, "Parent Co")
	if _, err := e.fake.Insert("res.partner", map[string]any{"name": "Child Co", "parent_id": parent}); err != nil {
		t.Fatal(err)
	}
	resp, err := e.fake.SendWebhook(t.Context(), ing.URL+"/odoo/partners/0123456789abcdef", "Hub(#1)", "res.partner", delivered,
		[]string{"name", "write_date"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}

	e.clk.Add(time.Minute)
	stored, err := e.poller(t, 200).Poll(t.Context())
	if err != nil || stored != 3 {
		t.Fatalf("poll stored %d: %v", stored, err)
	}
	msgs := ingesttest.Messages(t, js, events.StreamOdoo)
	if len(msgs) != 4 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	if msgs[0].Header.Get("Odoo-Via") != "webhook" || msgs[1].Header.Get("Odoo-Via") != "poll" ||
		msgs[1].Header.Get("Odoo-Id") != fmt.Sprint(missed) || msgs[1].Subject != "odoo.event.res_partner.partners" {
		t.Fatalf("first %v second %v", msgs[0].Header, msgs[1].Header)
	}
	var child map[string]any
	if err := json.Unmarshal(msgs[3].Data, &child); err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate("odoo-webhook", msgs[3].Data); err != nil {
		t.Fatal(err)
	}
	if child["parent_id"] != float64(parent) || child["_model"] != "res.partner" || child["_action"] != "Pulse Hub poll(partners)" {
		t.Fatalf("polled body in the webhook's shape: %s", msgs[3].Data)
	}
}

func TestPollPagesThroughManyChangesWithinOneSecond(t *testing.T) {
	e := newEnv(t)
	_, js := e.nats.Client(t)
	var ids []int64
	for i := range 7 {
		ids = append(ids, e.insert(t, fmt.Sprintf("Same Second %d", i)))
		e.clk.Add(time.Millisecond)
	}
	for i := range 5 {
		e.clk.Add(time.Second)
		ids = append(ids, e.insert(t, fmt.Sprintf("Later %d", i)))
	}
	e.clk.Add(2 * time.Minute)
	stored, err := e.poller(t, 3).Poll(t.Context())
	if err != nil || stored != len(ids) {
		t.Fatalf("stored %d of %d: %v", stored, len(ids), err)
	}
	msgs := ingesttest.Messages(t, js, events.StreamOdoo)
	for i, m := range msgs {
		if m.Header.Get("Odoo-Id") != fmt.Sprint(ids[i]) {
			t.Fatalf("message %d is record %s, want %d (oldest first)", i, m.Header.Get("Odoo-Id"), ids[i])
		}
	}
	if len(msgs) != len(ids) {
		t.Fatalf("%d messages for %d changes", len(msgs), len(ids))
	}
}

func TestPollResumesFromItsCheckpointAfterARestart(t *testing.T) {
	e := newEnv(t)
	_, js := e.nats.Client(t)
	e.insert(t, "Before")
	e.clk.Add(time.Minute)
	if stored, err := e.poller(t, 200).Poll(t.Context()); err != nil || stored != 1 {
		t.Fatalf("first pass stored %d: %v", stored, err)
	}
	var m odoopoll.Mark
	if found, err := e.store.Load(t.Context(), odoopoll.Key("partners"), &m); err != nil || !found || m.Published != 1 {
		t.Fatalf("checkpoint %+v %v %v", m, found, err)
	}
	// Down for a while: a change 90 minutes later, polled two hours later
	// by a new poller. The 1h lookback alone would not reach it.
	e.clk.Add(90 * time.Minute)
	late := e.insert(t, "While down")
	e.clk.Add(30 * time.Minute)
	stored, err := e.poller(t, 200).Poll(t.Context())
	if err != nil || stored != 1 {
		t.Fatalf("after restart stored %d: %v", stored, err)
	}
	msgs := ingesttest.Messages(t, js, events.StreamOdoo)
	if len(msgs) != 2 || msgs[1].Header.Get("Odoo-Id") != fmt.Sprint(late) {
		t.Fatalf("%d messages", len(msgs))
	}
	// A quiet source moves its checkpoint on: nothing is read again.
	e.clk.Add(time.Hour)
	e.fake.ResetCounters()
	if stored, err := e.poller(t, 200).Poll(t.Context()); err != nil || stored != 0 {
		t.Fatalf("quiet pass stored %d: %v", stored, err)
	}
	_, _ = e.store.Load(t.Context(), odoopoll.Key("partners"), &m)
	if want := odoo.FormatTime(e.clk.Now().Add(-odoopoll.DefaultOverlap)); m.WriteDate != want {
		t.Fatalf("quiet checkpoint %s, want %s", m.WriteDate, want)
	}
}

func TestPollFailuresKeepTheCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.insert(t, "A")
	e.clk.Add(time.Minute)
	p := e.poller(t, 200)
	if _, err := p.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	var before odoopoll.Mark
	_, _ = e.store.Load(t.Context(), odoopoll.Key("partners"), &before)

	e.clk.Add(time.Minute)
	e.insert(t, "B")
	e.clk.Add(time.Minute)
	e.fake.FailNext(1, odootest.SerializationFailure().For("search_read"))
	if _, err := p.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "search_read res.partner") {
		t.Fatalf("odoo failure: %v", err)
	}
	var after odoopoll.Mark
	_, _ = e.store.Load(t.Context(), odoopoll.Key("partners"), &after)
	if after.WriteDate != before.WriteDate {
		t.Fatalf("checkpoint moved from %s to %s on a failed pass", before.WriteDate, after.WriteDate)
	}

	e.nats.Stop()
	natstest.WaitFor(t, 10*time.Second, "the poller to notice NATS is gone", func() bool { return !e.pub.Conn.IsConnected() })
	if _, err := p.Poll(t.Context()); err == nil {
		t.Fatal("poll with NATS down succeeded")
	}
}

func TestRunPollsUntilCancelled(t *testing.T) {
	e := newEnv(t)
	_, js := e.nats.Client(t)
	e.insert(t, "A")
	p := e.poller(t, 200)
	p.Source.Interval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	natstest.WaitFor(t, 10*time.Second, "the poll to store the change", func() bool { return ingesttest.Count(t, js, events.StreamOdoo) == 1 })
	e.fake.FailNext(1, odootest.HTTPStatus(http.StatusBadGateway, 0).For("search_read"))
	natstest.WaitFor(t, 10*time.Second, "a failed pass to be logged", func() bool { return strings.Contains(e.log.String(), "odoo poll failed") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
