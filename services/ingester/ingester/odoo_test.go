package ingester_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/insightpulse/pulsehub/services/ingester/odooevent"
	"github.com/nats-io/nats.go/jetstream"
)

const token = "0123456789abcdef0123456789abcdef"

func odooURL(ing *ingesttest.Ingester, name, tok string) string {
	return ing.URL + "/odoo/" + name + "/" + tok
}

// startOdoo runs a fake Odoo, JetStream and an ingester with odooConfig.
func startOdoo(t *testing.T, opts ...odootest.Option) (*odootest.Server, *ingesttest.Ingester, jetstream.JetStream) {
	t.Helper()
	fake := odootest.New(t, opts...)
	n := ingesttest.StartNATS(t)
	ing := ingesttest.Serve(t, n, odooConfig(fake))
	_, js := n.Client(t)
	return fake, ing, js
}

// odooConfig has one source, partners, for res.partner on instance main.
func odooConfig(fake *odootest.Server) ingester.Config {
	cfg := ingester.DefaultConfig()
	cfg.GitHub.Enabled = false
	cfg.Odoo = map[string]odoo.Config{"main": fake.Config(odoo.TransportXMLRPC)}
	cfg.OdooSources = map[string]ingester.OdooSource{
		"partners": {Token: config.NewSecret(token), Model: "res.partner", Instance: "main"},
		"anything": {Token: config.NewSecret(token + "x")},
	}
	return cfg
}

func TestOdooWebhookRepeatsAreStoredOnce(t *testing.T) {
	clk := ingesttest.NewClock(time.Date(2026, 11, 22, 5, 14, 39, 350509000, time.UTC))
	fake, ing, js := startOdoo(t, odootest.WithClock(clk.Now))
	id, err := fake.Insert("res.partner", map[string]any{"name": "Webhook Test Co", "email": "wh@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{"name", "email", "write_date", "create_date"}
	var answers []map[string]any
	for range 11 { // what one create with an unrestricted automation rule sends
		resp, err := fake.SendWebhook(t.Context(), odooURL(ing, "partners", token), "Hub webhook POST(#237)", "res.partner", id, fields)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("webhook: %d %s", resp.StatusCode, b)
		}
		if err := schemas.Validate("ingest-accepted", b); err != nil {
			t.Fatal(err)
		}
		var a map[string]any
		_ = json.Unmarshal(b, &a)
		answers = append(answers, a)
	}
	if answers[0]["duplicate"] != false || answers[10]["duplicate"] != true || answers[0]["id"] != answers[10]["id"] {
		t.Fatalf("answers: first %v last %v", answers[0], answers[10])
	}
	msgs := ingesttest.Messages(t, js, events.StreamOdoo)
	if len(msgs) != 1 {
		t.Fatalf("stored %d messages for one change", len(msgs))
	}
	m := msgs[0]
	e := events.FromMsg(m.Header, m.Data)
	if m.Subject != "odoo.event.res_partner.partners" || e.Subject != fmt.Sprintf("res.partner/%d", id) ||
		e.Type != odooevent.Type || e.Source != fake.URL || !e.Time.Equal(clk.Now()) ||
		m.Header.Get(odooevent.HeaderModel) != "res.partner" || m.Header.Get(odooevent.HeaderSource) != "partners" ||
		m.Header.Get(odooevent.HeaderWriteDate) != "2026-11-22 05:14:39.350509" {
		t.Fatalf("stored %s with %v", m.Subject, m.Header)
	}
	if err := schemas.Validate("odoo-webhook", m.Data); err != nil {
		t.Fatalf("stored body: %v", err)
	}
}

func TestOdooRecordedWebhookBodiesAreStoredAsSent(t *testing.T) {
	_, ing, js := startOdoo(t)
	raw, _ := os.ReadFile("../testdata/odoo/partner-create.http")
	_, create, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	if len(create) == 0 {
		_, create, _ = bytes.Cut(raw, []byte("\n\n"))
	}
	write, _ := os.ReadFile("../testdata/odoo/partner-write.json")
	write = bytes.TrimSpace(write)
	create = bytes.TrimSpace(create)
	h := http.Header{"Content-Type": {"application/json"}}
	for _, body := range [][]byte{create, write, create} {
		if code, answer := ing.Post(t, "/odoo/partners/"+token, h, body); code != http.StatusAccepted {
			t.Fatalf("%d %s", code, answer)
		}
	}
	msgs := ingesttest.Messages(t, js, events.StreamOdoo)
	if len(msgs) != 2 || !bytes.Equal(msgs[0].Data, create) || !bytes.Equal(msgs[1].Data, write) {
		t.Fatalf("stored %d messages", len(msgs))
	}
	if msgs[0].Header.Get("ce-subject") != "res.partner/18" || msgs[0].Header.Get("ce-id") == msgs[1].Header.Get("ce-id") {
		t.Fatalf("headers %v / %v", msgs[0].Header, msgs[1].Header)
	}
}

func TestOdooSecondChangeWithinTheSameSecondIsStoredToo(t *testing.T) {
	_, ing, js := startOdoo(t)
	h := http.Header{"Content-Type": {"application/json"}}
	body := func(phone, wd string) []byte {
		return []byte(`{"_action": "a(#1)", "_id": 18, "_model": "res.partner", "id": 18, "phone": "` + phone + `", "write_date": "` + wd + `"}`)
	}
	first, second := body("1", "2026-11-22 05:14:39.350509"), body("2", "2026-11-22 05:14:39.956182")
	var ids []string
	for _, b := range [][]byte{first, second, second, first} {
		code, answer := ing.Post(t, "/odoo/partners/"+token, h, b)
		var a struct{ ID string }
		_ = json.Unmarshal(answer, &a)
		if code != http.StatusAccepted {
			t.Fatalf("%d %s", code, answer)
		}
		ids = append(ids, a.ID)
	}
	msgs := ingesttest.Messages(t, js, events.StreamOdoo)
	if len(msgs) != 2 || !bytes.Equal(msgs[1].Data, second) || ids[1] != ids[2] || ids[0] != ids[3] || ids[0] == ids[1] {
		t.Fatalf("stored %d messages, ids %v", len(msgs), ids)
	}
}

func TestOdooRefusals(t *testing.T) {
	fake := odootest.New(t)
	n := ingesttest.StartNATS(t)
	cfg := odooConfig(fake)
	cfg.OdooWebhook.MaxBodyBytes = 1 << 10
	ing := ingesttest.Serve(t, n, cfg)
	_, js := n.Client(t)
	jsonH := http.Header{"Content-Type": {"application/json"}}
	good := []byte(`{"_id": 7, "_model": "res.partner", "write_date": "2026-11-22 05:14:39.350509"}`)
	cases := []struct {
		name, path string
		header     http.Header
		body       []byte
		status     int
		reason     string
	}{
		{"wrong token", "/odoo/partners/" + strings.Repeat("0", 32), jsonH, good, 404, "not found"},
		{"another source's token", "/odoo/partners/" + token + "x", jsonH, good, 404, "not found"},
		{"unknown source", "/odoo/nobody/" + token, jsonH, good, 404, "not found"},
		{"no token", "/odoo/partners/", jsonH, good, 404, ""},
		{"no _model", "/odoo/partners/" + token, jsonH, []byte(`{"_id": 7}`), 400, "_model"},
		{"no _id", "/odoo/partners/" + token, jsonH, []byte(`{"_model": "res.partner"}`), 400, "_id"},
		{"_id not a number", "/odoo/partners/" + token, jsonH, []byte(`{"_id": "7", "_model": "res.partner"}`), 400, "_id"},
		{"bad write_date", "/odoo/partners/" + token, jsonH, []byte(`{"_id": 7, "_model": "res.partner", "write_date": "yesterday"}`), 400, "write_date"},
		{"another model", "/odoo/partners/" + token, jsonH, []byte(`{"_id": 7, "_model": "res.users"}`), 400, "takes res.partner"},
		{"not JSON", "/odoo/partners/" + token, jsonH, []byte(`{"_id": 7,`), 400, "JSON"},
		{"form body", "/odoo/partners/" + token, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, good, 415, "application/json"},
		{"over the limit", "/odoo/partners/" + token, jsonH, bytes.Repeat([]byte(" "), 2<<10), 413, "limit"},
		{"GitHub disabled", "/github", jsonH, good, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, answer := ing.Post(t, c.path, c.header, c.body)
			if code != c.status || !strings.Contains(string(answer), c.reason) {
				t.Fatalf("status %d %s, want %d with %q", code, answer, c.status, c.reason)
			}
		})
	}
	resp, err := http.Get(ing.URL + "/odoo/partners/" + token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	if got := ingesttest.Count(t, js, events.StreamOdoo); got != 0 {
		t.Fatalf("%d messages stored after refusals", got)
	}
	logs := ing.Log.String()
	if strings.Contains(logs, token) || strings.Contains(logs, strings.Repeat("0", 32)) {
		t.Fatal("a log line holds a token")
	}
	if !strings.Contains(logs, `"odoo_source":"nobody"`) || !strings.Contains(logs, `"source":"odoo/unknown"`) {
		t.Fatalf("unknown source not logged:\n%s", logs)
	}
}

func TestOdooAnyModelSourceAndNoWriteDate(t *testing.T) {
	_, ing, js := startOdoo(t)
	h := http.Header{"Content-Type": {"application/json"}}
	a := []byte(`{"_id": 3, "_model": "hr.expense", "name": "Taxi"}`)
	b := []byte(`{"_id": 3, "_model": "hr.expense", "name": "Taxi to the airport"}`)
	for _, body := range [][]byte{a, a, b} {
		if code, answer := ing.Post(t, "/odoo/anything/"+token+"x", h, body); code != http.StatusAccepted {
			t.Fatalf("%d %s", code, answer)
		}
	}
	msgs := ingesttest.Messages(t, js, events.StreamOdoo)
	if len(msgs) != 2 || msgs[0].Subject != "odoo.event.hr_expense.anything" ||
		msgs[0].Header.Get("ce-source") != "urn:pulsehub:odoo:anything" {
		t.Fatalf("stored %d: %v", len(msgs), msgs[0].Header)
	}
}
