package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/odoo"
)

// A signed GitHub issues delivery becomes a project.task in Odoo through
// the route; its redelivery (same GUID) changes nothing.
func TestGitHubIssueBecomesATaskOnceEvenWhenRedelivered(t *testing.T) {
	h := NewHub(t, Options{})
	d := IssueDelivery(t, "opened", 1001, "Crash on login")
	h.MustSend(d)
	h.WaitTasks(1)
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
	task := h.Tasks()[1001][0]
	if odoo.Record(task).String("name") != "Crash on login" {
		t.Fatalf("task = %v", task)
	}
	writes := h.Odoo.CallsFor("project.task", "write") + h.Odoo.CallsFor("project.task", "create")
	code, err := h.Send(d) // GitHub's redelivery of the same delivery
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("redelivery answered %d %v", code, err)
	}
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
	if n := len(h.Tasks()[1001]); n != 1 {
		t.Fatalf("%d tasks for one issue", n)
	}
	if got := h.Odoo.CallsFor("project.task", "write") + h.Odoo.CallsFor("project.task", "create"); got != writes {
		t.Fatalf("the redelivery wrote to Odoo again: %d calls, was %d", got, writes)
	}
	info, _ := h.JS.Stream(context.Background(), events.StreamGitHub)
	if msgs := info.CachedInfo().State.Msgs; msgs != 1 {
		t.Fatalf("GITHUB holds %d messages, want the delivery stored once", msgs)
	}
	if d, _ := stream.DLQDepth(context.Background(), h.JS, "github-issues-to-tasks"); d != 0 {
		t.Fatalf("%d dead letters", d)
	}
}

// An Odoo webhook for hr.expense goes to the OCR service; its answer is
// written back onto the expense.
func TestExpenseWebhookGoesThroughOCRBackIntoOdoo(t *testing.T) {
	h := NewHub(t, Options{})
	att, err := h.Odoo.Insert("ir.attachment", map[string]any{"name": "receipt.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := h.Odoo.Insert("hr.expense", map[string]any{"name": "Taxi", "attachment_id": att})
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("%s/odoo/expenses/%s", h.Ingester, odooToken)
	resp, err := h.Odoo.SendWebhook(context.Background(), url, "Expense OCR(#7)", "hr.expense", id, []string{"name", "attachment_id", "write_date"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	want := float64(att) * 1.5
	natstest.WaitFor(t, wait, "the OCR total on the expense", func() bool {
		for _, r := range h.Odoo.Records("hr.expense") {
			if odoo.Record(r).Int("id") == id {
				return odoo.Record(r).Float("x_ocr_total") == want && odoo.Record(r).String("x_ocr_vendor") == "ACME"
			}
		}
		return false
	})
	if h.OCR.Calls() != 1 {
		t.Fatalf("OCR called %d times", h.OCR.Calls())
	}
}
