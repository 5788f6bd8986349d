package console

import (
	"fmt"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
)

func TestIndexKeepsNewestFirstThroughUpdatesAndDeletes(t *testing.T) {
	x := newIndex()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		x.put(jobstate.Record{ID: fmt.Sprintf("j%02d", i), Service: "ocr", Task: []string{"a", "b"}[i%2], State: jobstate.Pending,
			CreatedAt: t0.Add(time.Duration(i%10) * time.Minute)})
	}
	x.put(jobstate.Record{ID: "j05", Service: "llm", Task: "a", State: jobstate.Dead, CreatedAt: t0.Add(time.Hour), LastError: "Boom"})
	x.del("j07")
	x.del("missing")
	r := x.query(Query{Size: 10})
	if r.Total != 29 || r.All != 29 || r.MaxPage != 2 || r.Jobs[0].ID != "j05" {
		t.Fatalf("query: total %d all %d maxpage %d first %s", r.Total, r.All, r.MaxPage, r.Jobs[0].ID)
	}
	for i := 1; i < len(x.order); i++ {
		if before(x.order[i-1], x.order[i]) > 0 {
			t.Fatalf("out of order at %d", i)
		}
	}
	if r := x.query(Query{Text: "boom", Size: 10}); r.Total != 1 || r.Jobs[0].ID != "j05" {
		t.Fatalf("text search: %+v", r)
	}
	if r := x.query(Query{Service: "ocr", Task: "b", State: jobstate.Pending, Size: 10, Page: 1}); r.Total != 13 || len(r.Jobs) != 3 {
		t.Fatalf("filtered second page: total %d, %d rows", r.Total, len(r.Jobs))
	}
	s, ts := x.facets()
	if fmt.Sprint(s, ts) != "[llm ocr] [a b]" {
		t.Fatalf("facets %v %v", s, ts)
	}
	x.del("j05")
	if s, _ := x.facets(); fmt.Sprint(s) != "[ocr]" {
		t.Fatalf("facets after delete %v", s)
	}
}
