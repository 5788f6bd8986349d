package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/dispatcher/graph"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
)

// A job that is a graph node shows its graph (nodes, states, the drawing);
// a blocked graph is requeued and cancelled from the page, through the
// same functions as `hub jobs requeue|cancel GRAPH`.
func TestAGraphNodeShowsItsGraphAndTheGraphIsActedOn(t *testing.T) {
	h := startHub(t, nil)
	g := jobs.Graph{Name: "invoice", Nodes: map[string]jobs.Node{
		"ocr":  {Service: "ocr", Task: "extract", Job: jobs.Job{Payload: json.RawMessage(`{"doc": 1}`)}}, // 422: dead
		"book": {Service: "ocr", Task: "book", PayloadFrom: ".parents.ocr.response"},
	}, Edges: [][2]string{{"ocr", "book"}}}
	e, err := jobs.EnqueueGraph(context.Background(), h.js, g, jobs.GraphLimits{})
	if err != nil {
		t.Fatal(err)
	}
	first, second := graph.JobID(e.ID, "ocr"), graph.JobID(e.ID, "book")
	h.waitState(t, first, jobstate.Dead)
	h.waitState(t, second, jobstate.WaitDependencies)
	c := h.client(t)
	c.mustLogin()
	status, page := c.get("/console/jobs/" + url.PathEscape(second))
	if status != http.StatusOK {
		t.Fatalf("job page: %d", status)
	}
	contains(t, "the node's page", page, `id="graph-state">blocked<`, first, `id="graph-drawing"`, "wait_dependencies", `id="cancel-graph"`, `id="requeue-graph"`)

	// Requeue the graph: its dead node runs again (422 again: dead again).
	before, err := jobs.Get(context.Background(), h.js, first)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := c.post("/console/jobs/"+url.PathEscape(e.ID)+"/requeue", url.Values{"csrf": {c.token()}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("requeue the graph: %s", resp.Status)
	}
	natstest.WaitFor(t, wait, "the requeued node to be dead again", func() bool {
		r, err := jobs.Get(context.Background(), h.js, first)
		return err == nil && r.State == jobstate.Dead && r.UpdatedAt.After(before.UpdatedAt)
	})

	resp, _ = c.post("/console/jobs/"+url.PathEscape(e.ID)+"/cancel", url.Values{"csrf": {c.token()}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel the graph: %s", resp.Status)
	}
	h.waitState(t, second, jobstate.Cancelled)
	_, page = c.get("/console/jobs/" + url.PathEscape(second))
	contains(t, "the cancelled graph", page, `id="graph-state">cancelled<`)
	// Requeue the graph: refused now, and said so on the page.
	resp, body := c.post("/console/jobs/"+url.PathEscape(e.ID)+"/requeue", url.Values{"csrf": {c.token()}})
	if resp.StatusCode == http.StatusSeeOther {
		t.Fatalf("a cancelled graph was requeued: %s", resp.Status)
	}
	contains(t, "the refusal", body, "is cancelled")
}
