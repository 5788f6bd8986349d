package odooevent

import (
	"testing"
	"time"
)

func TestWebhookAndPollDeriveTheSameID(t *testing.T) {
	base := Change{Source: "partners", Model: "res.partner", RecordID: 18}
	with := func(wd string, body string) Change {
		c := base
		c.WriteDate, c.Body = wd, []byte(body)
		return c
	}
	webhook := with("2026-11-22 05:14:39.350509", `{"_id":18}`)
	poll := with("2026-11-22 05:14:39", `{"_id":18,"name":"x"}`)
	later := with("2026-11-22 05:14:40.000001", `{"_id":18}`)
	other := webhook
	other.Source = "contacts"
	cases := []struct {
		name string
		a, b Change
		same bool
	}{
		{"webhook (µs) and poll (s) of one change", webhook, poll, true},
		{"the next second", webhook, later, false},
		{"another source", webhook, other, false},
		{"no write_date, same body", with("", `{"a":1}`), with("", `{"a":1}`), true},
		{"no write_date, another body", with("", `{"a":1}`), with("", `{"a":2}`), false},
	}
	for _, c := range cases {
		if got := c.a.ID() == c.b.ID(); got != c.same {
			t.Errorf("%s: same id = %v", c.name, got)
		}
	}
	if webhook.PreciseID() == "" || poll.PreciseID() != "" || webhook.PreciseID() == webhook.ID() {
		t.Fatal("precise ids")
	}
	if HasFraction("2026-11-22 05:14:39.000000") || !HasFraction("2026-11-22 05:14:39.5") || Seconds("not a date") != "not a date" {
		t.Fatal("HasFraction / Seconds")
	}
}

func TestEventEnvelope(t *testing.T) {
	got := Change{Source: "s", Model: "hr.expense", RecordID: 7, WriteDate: "2026-11-22 05:14:39.350509", Body: []byte(`{}`),
		Via: ViaWebhook, Received: time.Unix(0, 0)}.Event("id-1")
	if got.ID != "id-1" || got.CorrelationID != "id-1" || got.Subject != "hr.expense/7" || got.Source != "urn:pulsehub:odoo:s" ||
		got.Type != Type || got.ContentType != "application/json" ||
		!got.Time.Equal(time.Date(2026, 11, 22, 5, 14, 39, 350509000, time.UTC)) ||
		got.Header.Get(HeaderModel) != "hr.expense" || got.Header.Get(HeaderID) != "7" || got.Header.Get(HeaderVia) != "webhook" {
		t.Fatalf("%+v", got)
	}
	noDate := Change{Source: "s", Model: "m", RecordID: 1, SourceURI: "https://erp", Received: time.Unix(5, 0)}.Event("x")
	if !noDate.Time.Equal(time.Unix(5, 0)) || noDate.Source != "https://erp" || noDate.Header.Get(HeaderWriteDate) != "" {
		t.Fatalf("%+v", noDate)
	}
}
