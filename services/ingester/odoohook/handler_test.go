package odoohook_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/insightpulse/pulsehub/services/ingester/odoohook"
)

type lookupFunc func(ctx context.Context, stream string, seq uint64) (string, error)

func (f lookupFunc) WriteDate(ctx context.Context, stream string, seq uint64) (string, error) {
	return f(ctx, stream, seq)
}

func TestDuplicateStaysADuplicateWhenTheStoredCopyCannotBeRead(t *testing.T) {
	n := ingesttest.StartNATS(t)
	logs := &ingesttest.Buffer{}
	deps := n.Deps(t, logs)
	h := &odoohook.Handler{
		Sources: map[string]odoohook.Source{"p": {Name: "p", Token: "tok"}},
		Publish: &intake.Publisher{Conn: deps.Conn, JS: deps.JS, Timeout: 700 * time.Millisecond},
		Stored:  lookupFunc(func(context.Context, string, uint64) (string, error) { return "", errors.New("stream gone") }),
		Log:     deps.Logger,
	}
	ep := h.Endpoint(slog.New(slog.DiscardHandler), nil, intake.BodyRules{})
	mux := http.NewServeMux()
	mux.Handle("/odoo/{name}/{token}", ep)
	post := func(body string) int {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/odoo/p/tok", strings.NewReader(body)))
		return rec.Code
	}
	first := `{"_id": 1, "_model": "res.partner", "write_date": "2026-11-22 05:14:39.350509"}`
	second := `{"_id": 1, "_model": "res.partner", "write_date": "2026-11-22 05:14:39.956182"}`
	if post(first) != 202 || post(second) != 202 {
		t.Fatal("not accepted")
	}
	_, js := n.Client(t)
	if got := ingesttest.Count(t, js, events.StreamOdoo); got != 1 || !strings.Contains(logs.String(), "stream gone") {
		t.Fatalf("%d stored; logs %s", got, logs.String())
	}

	n.Stop()
	natstest.WaitFor(t, 10*time.Second, "the handler's connection to notice", func() bool { return !deps.Conn.IsConnected() })
	if code := post(`{"_id": 2, "_model": "res.partner"}`); code != http.StatusServiceUnavailable {
		t.Fatalf("NATS down: %d", code)
	}
}

// readCounter is a body that counts the reads made of it.
type readCounter struct{ reads int }

func (r *readCounter) Read([]byte) (int, error) { r.reads++; return 0, errors.New("the body was read") }

func TestAWrongTokenIsRefusedBeforeTheBodyIsRead(t *testing.T) {
	h := &odoohook.Handler{Sources: map[string]odoohook.Source{"p": {Name: "p", Token: "the-right-token-0123456789"}}}
	b := intake.NewBudget(1<<20, nil)
	mux := http.NewServeMux()
	mux.Handle("/odoo/{name}/{token}", h.Endpoint(slog.New(slog.DiscardHandler), nil, intake.BodyRules{Budget: b}))
	for _, path := range []string{"/odoo/p/a-wrong-token-0123456789", "/odoo/unknown/the-right-token-0123456789"} {
		body := &readCounter{}
		req := httptest.NewRequest(http.MethodPost, path, body)
		req.ContentLength = 1 << 20 // announced, never sent
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || body.reads != 0 || b.InUse() != 0 {
			t.Fatalf("%s: %d after %d reads of the body, %d bytes held", path, rec.Code, body.reads, b.InUse())
		}
	}
}
