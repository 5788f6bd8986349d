package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/events/tracing/tracingtest"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// spanWait bounds each wait for spans.
const spanWait = 30 * time.Second

// mustParent fails t unless parent is child's parent.
func mustParent(t *testing.T, rec *tracingtest.Recorder, parent, child sdktrace.ReadOnlySpan) {
	t.Helper()
	if !tracingtest.ParentOf(parent, child) {
		t.Fatalf("%q (parent %s) is not a child of %q (%s); spans:\n%s", child.Name(), child.Parent().SpanID(), parent.Name(),
			parent.SpanContext().SpanID(), rec.Dump())
	}
}

// noLeaks fails t if a secret of the suite's config or a value of a
// payload it sent is in any span.
func noLeaks(t *testing.T, rec *tracingtest.Recorder, values ...string) {
	t.Helper()
	needles := append([]string{webhookSecret, odooToken, odootest.AdminPassword}, values...)
	if leaks := rec.Leaks(needles...); len(leaks) > 0 {
		t.Fatalf("spans hold secrets or payload values:\n%s", strings.Join(leaks, "\n"))
	}
}

// A GitHub delivery is one trace from the ingester's HTTP span to the Odoo
// call that wrote it: POST /github → publish → consume (the writer's
// route) → the batch → Odoo's calls. A replay of the stored delivery is
// one more consume span in the same trace, a child of the original
// publish. No span holds a secret or a value of the payload.
func TestAGitHubDeliveryAndItsReplayAreOneTraceDownToTheOdooWrite(t *testing.T) {
	old := consume.ReplayPoll
	consume.ReplayPoll = 100 * time.Millisecond
	t.Cleanup(func() { consume.ReplayPoll = old })
	rec := tracingtest.Install(t, tracingtest.All())
	h := NewHub(t, Options{})
	const title = "Tracing title 7f3a9 must stay in Odoo"
	d := IssueDelivery(t, "opened", 4242, title)
	h.MustSend(d)
	h.WaitTasks(1)
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")

	post := rec.Wait(t, spanWait, 1, "POST /github", attribute.String("github.delivery", d.GUID))[0]
	if !tracingtest.Has(post, attribute.String("github.event", "issues"), attribute.String("github.action", "opened"),
		attribute.Int("http.response.status_code", http.StatusAccepted)) || post.Parent().IsValid() {
		t.Fatalf("the webhook's span: %v (parent %v)", post.Attributes(), post.Parent())
	}
	traceID := post.SpanContext().TraceID()
	pub := only(t, rec, "publish github", traceID)
	mustParent(t, rec, post, pub)
	route := attribute.String("pulsehub.route", "github-issues-to-tasks")
	cons := rec.Wait(t, spanWait, 1, "consume github-issues-to-tasks", route, attribute.Bool("pulsehub.replay", false))[0]
	mustParent(t, rec, pub, cons)
	if !tracingtest.Has(cons, attribute.String("pulsehub.stream", "GITHUB"), attribute.Int64("pulsehub.stream_seq", 1),
		attribute.Int("pulsehub.attempt", 1), attribute.String("pulsehub.event_id", d.GUID)) {
		t.Fatalf("the consume span's attributes: %v", cons.Attributes())
	}
	batch := rec.Wait(t, spanWait, 1, "odoo batch upsert", route)[0]
	mustParent(t, rec, cons, batch)
	if !tracingtest.Has(batch, attribute.Int("pulsehub.batch_size", 1), attribute.String("odoo.model", "project.task")) {
		t.Fatalf("the batch span's attributes: %v", batch.Attributes())
	}
	calls := 0
	for _, s := range rec.Ended() {
		if strings.HasPrefix(s.Name(), "odoo project.task ") && tracingtest.ParentOf(batch, s) {
			calls++
			if !tracingtest.Has(s, attribute.String("odoo.model", "project.task")) {
				t.Fatalf("an Odoo call's attributes: %v", s.Attributes())
			}
		}
	}
	if calls == 0 {
		t.Fatalf("no Odoo call under the batch; spans:\n%s", rec.Dump())
	}

	replayAll(t, h)
	replayed := rec.Wait(t, spanWait, 1, "consume github-issues-to-tasks", route, attribute.Bool("pulsehub.replay", true))[0]
	mustParent(t, rec, pub, replayed) // the stored message's traceparent: the replay joins the delivery's trace
	if !tracingtest.Has(replayed, attribute.String("pulsehub.consumer", "github-issues-to-tasks-replay")) {
		t.Fatalf("the replay's consume span: %v", replayed.Attributes())
	}
	noLeaks(t, rec, title, "Tracing title", odoo.Record(h.Tasks()[4242][0]).String("description"))
}

// only returns the one span named name in trace id.
func only(t *testing.T, rec *tracingtest.Recorder, name string, id trace.TraceID) sdktrace.ReadOnlySpan {
	t.Helper()
	var got []sdktrace.ReadOnlySpan
	for _, s := range rec.Find(name) {
		if s.SpanContext().TraceID() == id {
			got = append(got, s)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d spans %q in trace %s; spans:\n%s", len(got), name, id, rec.Dump())
	}
	return got[0]
}

// flakyOCR answers 503 to the first call and like OCRService after, and
// keeps the traceparent of every call.
type flakyOCR struct {
	mu           sync.Mutex
	traceparents []string
}

func (f *flakyOCR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.traceparents = append(f.traceparents, r.Header.Get("traceparent"))
	n := len(f.traceparents)
	f.mu.Unlock()
	if n == 1 {
		http.Error(w, `{"error":"warming up"}`, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"total": 99.5, "vendor": "Secret Vendor GmbH"}`)
}

func (f *flakyOCR) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.traceparents...)
}

// An Odoo webhook whose OCR call fails once is one trace: POST → publish →
// consume (attempt 1) → call (503), and consume (attempt 2) → call (200,
// a retry) → the result's publish → the write-back route's consume → the
// Odoo write. The service receives each call span's traceparent.
func TestARetriedMicroserviceCallIsOneTraceBackIntoOdoo(t *testing.T) {
	rec := tracingtest.Install(t, tracingtest.All())
	ocr := &flakyOCR{}
	srv := httptest.NewServer(ocr)
	t.Cleanup(srv.Close)
	h := NewHub(t, Options{Tune: func(c *hubconfig.Config) {
		s := c.Dispatcher.Services["ocr"]
		s.URL = srv.URL
		c.Dispatcher.Services["ocr"] = s
	}})
	att, err := h.Odoo.Insert("ir.attachment", map[string]any{"name": "receipt.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := h.Odoo.Insert("hr.expense", map[string]any{"name": "Taxi to the secret meeting", "attachment_id": att})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.Odoo.SendWebhook(context.Background(), fmt.Sprintf("%s/odoo/expenses/%s", h.Ingester, odooToken),
		"Expense OCR(#7)", "hr.expense", id, []string{"name", "attachment_id", "write_date"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	natstest.WaitFor(t, wait, "the OCR total on the expense", func() bool {
		for _, r := range h.Odoo.Records("hr.expense") {
			if odoo.Record(r).Int("id") == id {
				return odoo.Record(r).Float("x_ocr_total") == 99.5
			}
		}
		return false
	})

	write := rec.Wait(t, spanWait, 1, "odoo hr.expense write")[0]
	traceID := write.SpanContext().TraceID()
	post := only(t, rec, "POST /odoo/{name}/{token}", traceID)
	pub := only(t, rec, "publish odoo", traceID)
	mustParent(t, rec, post, pub)
	attempts := map[int64]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Find("consume expense-ocr") {
		if s.SpanContext().TraceID() == traceID {
			mustParent(t, rec, pub, s)
			v, _ := tracingtest.Attr(s, "pulsehub.attempt")
			attempts[v.AsInt64()] = s
		}
	}
	if len(attempts) != 2 || attempts[1] == nil || attempts[2] == nil {
		t.Fatalf("want the route's attempts 1 and 2 in the trace; spans:\n%s", rec.Dump())
	}
	if attempts[1].Status().Description != "transient" {
		t.Fatalf("attempt 1 ended %v", attempts[1].Status())
	}
	var first, second sdktrace.ReadOnlySpan
	for _, s := range rec.Find("call ocr extract", attribute.String("pulsehub.service", "ocr"), attribute.String("pulsehub.task", "extract")) {
		switch {
		case tracingtest.ParentOf(attempts[1], s):
			first = s
		case tracingtest.ParentOf(attempts[2], s):
			second = s
		}
	}
	if first == nil || second == nil {
		t.Fatalf("a call span is missing under its attempt; spans:\n%s", rec.Dump())
	}
	if !tracingtest.Has(first, attribute.Int("http.response.status_code", 503), attribute.Bool("pulsehub.retry", false)) ||
		!tracingtest.Has(second, attribute.Int("http.response.status_code", 200), attribute.Bool("pulsehub.retry", true),
			attribute.Bool("pulsehub.cache_hit", false)) {
		t.Fatalf("call spans: %v / %v", first.Attributes(), second.Attributes())
	}
	calls := ocr.calls()
	if len(calls) != 2 || tracing.TraceID(calls[0]) != traceID.String() ||
		!strings.Contains(calls[1], second.SpanContext().SpanID().String()) {
		t.Fatalf("the service got traceparents %q, want each call span's", calls)
	}
	result := only(t, rec, "publish results", traceID)
	mustParent(t, rec, second, result)
	back := only(t, rec, "consume expense-ocr-result", traceID)
	mustParent(t, rec, result, back)
	batch := only(t, rec, "odoo batch write", traceID)
	mustParent(t, rec, back, batch)
	mustParent(t, rec, batch, write)
	noLeaks(t, rec, "Taxi to the secret meeting", "Secret Vendor", "99.5", "receipt.pdf")
}
