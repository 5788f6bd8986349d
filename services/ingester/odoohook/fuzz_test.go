package odoohook_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/insightpulse/pulsehub/services/ingester/odooevent"
	"github.com/insightpulse/pulsehub/services/ingester/odoohook"
)

// FuzzWebhook sends arbitrary bodies to a source that takes any model, in
// front of a real JetStream: it must never panic, store something only
// when it answers 2xx, and store it only on a subject within the hub's
// limits (the model within events.MaxNameLen, the subject within
// events.MaxSubjectLen) — the attack of issue 13 was a _model of 4,060
// characters that got the connection closed. After each request the
// connection must still be up.
//
//	go test -run '^$' -fuzz FuzzWebhook -fuzztime 60s -fuzzminimizetime 100x -parallel 1 ./odoohook
func FuzzWebhook(f *testing.F) {
	f.Add("res.partner", int64(7), "2026-11-22 05:14:39.350509", "")
	f.Add("hr.expense", int64(1), "", `{"_id": 1, "_model": "hr.expense", "name": "x"}`)
	f.Add(strings.Repeat("x", 4060), int64(7), "2026-11-22 05:14:39", "")
	f.Add(strings.Repeat("m", 64), int64(9), "", "")
	f.Add("a..b", int64(-1), "yesterday", `{"_model": "x"`)

	n := ingesttest.StartNATS(f)
	deps := n.Deps(f, &ingesttest.Buffer{})
	h := &odoohook.Handler{Sources: map[string]odoohook.Source{"any": {Name: "any", Token: "tok"}},
		Publish: &intake.Publisher{Conn: deps.Conn, JS: deps.JS, Timeout: 2 * time.Second}, Log: deps.Logger}
	mux := http.NewServeMux()
	mux.Handle("/odoo/{name}/{token}", h.Endpoint(slog.New(slog.DiscardHandler), nil, intake.BodyRules{}))
	_, js := n.Client(f)
	stored, err := js.Stream(context.Background(), events.StreamOdoo)
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, model string, id int64, writeDate, raw string) {
		body := raw
		if body == "" {
			body = `{"_id": ` + strconv.FormatInt(id, 10) + `, "_model": ` + strconv.Quote(model)
			if writeDate != "" {
				body += `, "write_date": ` + strconv.Quote(writeDate)
			}
			body += "}"
		}
		before := ingesttest.Count(t, js, events.StreamOdoo)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/odoo/any/tok", strings.NewReader(body)))
		after := ingesttest.Count(t, js, events.StreamOdoo)
		ok := rec.Code >= 200 && rec.Code < 300
		switch {
		case !ok && after != before:
			t.Fatalf("stored a body answered %d", rec.Code)
		case !deps.Conn.IsConnected():
			t.Fatalf("the connection is gone after a %d: %v", rec.Code, deps.Conn.LastError())
		case after > before:
			m, err := stored.GetMsg(context.Background(), after) // nothing is ever deleted: the count is the last sequence
			if err != nil {
				t.Fatal(err)
			}
			model := m.Header.Get(odooevent.HeaderModel)
			if len(m.Subject) > events.MaxSubjectLen || events.CheckSubject(m.Subject) != nil || events.CheckName("model", model) != nil ||
				m.Subject != events.OdooEventSubject(model, "any") {
				t.Fatalf("stored on %q (%d bytes), model of %d bytes", m.Subject, len(m.Subject), len(model))
			}
		}
	})
}
