package jobs_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
)

func TestParseGraphChecks(t *testing.T) {
	good := `{"graph": {"name": "g", "nodes": {"a": {"service": "ocr", "task": "t", "payload": 1}, "b": {"service": "ocr", "task": "t", "payload_from": ".parents.a.response"},
	  "c": {"odoo": {"model": "res.partner", "op": "write"}, "payload": {"id": 3, "values": {"name": "x"}}}}, "edges": [["a", "b"], ["a", "c"], ["b", "c"]]}}`
	g, err := jobs.ParseGraph([]byte(good), jobs.GraphLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if lv := g.Levels(); len(lv) != 3 || lv[0][0] != "a" || lv[2][0] != "c" {
		t.Fatalf("levels %v", lv)
	}
	if p := g.Parents()["c"]; len(p) != 2 || p[0] != "a" || p[1] != "b" {
		t.Fatalf("parents %v", p)
	}
	if g.Subject() != "jobs.graph.g" {
		t.Fatal(g.Subject())
	}
	// A node without a payload marshals without one (the schema refuses
	// payload with payload_from), so the body round-trips.
	b, _ := json.Marshal(jobs.GraphBody{Graph: g})
	if _, err := jobs.ParseGraph(b, jobs.GraphLimits{}); err != nil {
		t.Fatalf("round trip %s: %v", b, err)
	}
	bad := map[string]string{
		"cycle a -> b -> c -> a": `{"graph": {"nodes": {"a": {"service": "s", "task": "t"}, "b": {"service": "s", "task": "t"}, "c": {"service": "s", "task": "t"}}, "edges": [["a", "b"], ["b", "c"], ["c", "a"]]}}`,
		"given twice":            `{"graph": {"nodes": {"a": {"service": "s", "task": "t"}, "b": {"service": "s", "task": "t"}}, "edges": [["a", "b"], ["a", "b"]]}}`,
		"1001 nodes":             "",
		"edges, the most is 10":  "",
		"identity_key":           `{"graph": {"identity_key": "` + strings.Repeat("k", 129) + `", "nodes": {"a": {"service": "s", "task": "t"}}}}`,
		"not an object":          `{"graph": {"nodes": {"a": {"odoo": {"model": "res.partner", "op": "create"}, "payload": [1]}}}}`,
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = `"n` + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + itoa(i) + `": {"service": "s", "task": "t"}`
	}
	bad["1001 nodes"] = `{"graph": {"nodes": {` + strings.Join(many, ",") + `}}}`
	edges := make([]string, 21)
	for i := range edges {
		edges[i] = `["a", "b"]`
	}
	bad["edges, the most is 10"] = `{"graph": {"nodes": {"a": {"service": "s", "task": "t"}, "b": {"service": "s", "task": "t"}}, "edges": [` + strings.Join(edges, ",") + `]}}`
	for want, body := range bad {
		_, err := jobs.ParseGraph([]byte(body), jobs.GraphLimits{})
		if !events.IsPermanent(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
