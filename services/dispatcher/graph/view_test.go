package graph

import (
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
)

func TestViewDrawsNodesByLevelWithTheirParents(t *testing.T) {
	g := jobs.Graph{Name: "expense-ocr", Nodes: map[string]jobs.Node{
		"ocr":   {Service: "ocr", Task: "extract"},
		"llm":   {Service: "llm", Task: "summarize"},
		"write": {Odoo: &jobs.OdooTarget{Model: "hr.expense", Op: "write"}},
	}, Edges: [][2]string{{"ocr", "llm"}, {"ocr", "write"}, {"llm", "write"}}}
	rec := Record{ID: "g1", Name: g.GraphName(), CreatedAt: time.Now(), Graph: g}
	recs := []jobstate.Record{
		{ID: "g1.ocr", Graph: "g1", Node: "ocr", State: jobstate.Done, Attempts: 1},
		{ID: "g1.llm", Graph: "g1", Node: "llm", State: jobstate.Dead, Attempts: 2, LastError: "422\r\nforged line"},
	}
	v := view(rec, recs)
	if v.State != StateBlocked || v.Counts["done"] != 1 || v.Counts["unrecorded"] != 1 || len(v.Nodes) != 3 || v.Nodes[2].ID != "write" || v.Nodes[2].Level != 2 {
		t.Fatalf("view %+v", v)
	}
	d := v.Draw()
	for _, want := range []string{"graph g1 expense-ocr: blocked, 3 nodes (done 1, dead 1, unrecorded 1)", "level 2", "odoo hr.expense write", "← ocr, llm", "422  forged line"} {
		if !strings.Contains(d, want) {
			t.Errorf("drawing lacks %q:\n%s", want, d)
		}
	}
	if strings.Count(d, "\n") != 7 {
		t.Errorf("drawing has %d lines:\n%s", strings.Count(d, "\n"), d)
	}
	rec.CancelledAt = time.Now()
	if view(rec, recs).State != StateCancelled {
		t.Error("a cancelled graph")
	}
	if got := oneLine(strings.Repeat("é", 200), 10); len([]rune(got)) != 10 || !strings.HasSuffix(got, "…") {
		t.Errorf("oneLine %q", got)
	}
}
