package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
)

// benchJobs is the size of the job list the benchmarks render from.
const benchJobs = 10_000

func benchConsole(b *testing.B) *Console {
	b.Helper()
	x := newIndex()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	states := jobstate.States
	for i := range benchJobs {
		r := jobstate.Record{ID: fmt.Sprintf("01J%020d", i), Service: []string{"ocr", "llm", "mail"}[i%3],
			Task: []string{"extract", "summarize"}[i%2], State: states[i%len(states)], Attempts: i % 4,
			CreatedAt: start.Add(time.Duration(i) * time.Second), UpdatedAt: start.Add(time.Duration(i+5) * time.Second),
			Description: fmt.Sprintf("invoice INV/2026/%05d", i)}
		if r.State == jobstate.Dead {
			r.LastError = fmt.Sprintf("POST /extract: 422 Unprocessable Entity: {\"error\": \"page %d unreadable\"}", i)
		}
		x.put(r)
	}
	x.ready = true
	return &Console{cfg: Config{}.withDefaults(), index: x, log: slog.New(slog.DiscardHandler), now: time.Now}
}

// BenchmarkJobsPage renders one page of the job list out of 10,000 jobs,
// from the request to the HTML: the newest page, a filter, a text search
// and the last (oldest) page.
//
//	go test ./services/healthmon/console -run '^$' -bench JobsPage -benchmem
func BenchmarkJobsPage(b *testing.B) {
	c := benchConsole(b)
	for _, bc := range []struct{ name, query string }{
		{"newest", ""},
		{"state=dead", "state=dead"},
		{"service+task", "service=ocr&task=extract"},
		{"text", "q=inv/2026/0999"},
		{"last-page", "page=199"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("GET", "/console/jobs?"+bc.query, nil)
				name, f, _ := c.jobsPage(r, nil)
				if err := pages[name].ExecuteTemplate(io.Discard, "layout", f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIndexUpdate is one record's change as the watcher applies it
// to an index of 10,000 jobs.
func BenchmarkIndexUpdate(b *testing.B) {
	c := benchConsole(b)
	r := c.index.order[benchJobs/2].rec
	i := 0
	for b.Loop() {
		i++
		r.Attempts = i
		c.index.put(r)
	}
}

// BenchmarkBucketList is the CLI's way to a page of 50 (jobs.List, `hub
// jobs ls --limit 50`) on a bucket of 10,000 records: it reads the whole
// bucket at each call. It is the baseline the console's index replaces.
//
//	go test ./services/healthmon/console -run '^$' -bench 'JobsPage/newest|BucketList' -benchmem
func BenchmarkBucketList(b *testing.B) {
	h := natstest.RunHub(b)
	ctx := context.Background()
	s, err := jobstate.Open(ctx, h.JS, stream.DefaultConfig(), 0)
	if err != nil {
		b.Fatal(err)
	}
	src := benchConsole(b)
	var futures []*stream.Pending
	settle := func() {
		for _, f := range futures {
			if _, err := f.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		futures = futures[:0]
	}
	for i, e := range src.index.order {
		f, err := s.PutAsync(ctx, e.rec, false)
		if err != nil {
			b.Fatal(err)
		}
		if futures = append(futures, f); i%500 == 499 {
			settle() // within the connection's outstanding async publishes
		}
	}
	settle()
	for b.Loop() {
		l, err := jobs.List(ctx, h.JS, jobstate.Filter{Limit: 50})
		if err != nil || len(l) != 50 {
			b.Fatalf("%d %v", len(l), err)
		}
	}
}
