package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/dispatcher/graph"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
)

// Bounds of what a page reads from a request and shows of a payload.
const (
	maxQueryField = 200       // a filter's text
	maxPreview    = 16 << 10  // a payload or result shown on its page
	maxRowPreview = 240       // a payload preview in a list
	maxPage       = 1_000_000 // the highest page number asked for
)

// field is a query parameter cut to maxQueryField bytes.
func field(r *http.Request, name string) string {
	return clipRaw(r.URL.Query().Get(name), maxQueryField)
}

func clipRaw(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// JobsPage is the job list's data.
type JobsPage struct {
	Query    Query
	Result   Result
	States   []jobstate.State
	Services []string
	Tasks    []string
	Prev     string // query string of the previous page, "" on the first
	Next     string
}

func (c *Console) jobsQuery(r *http.Request) Query {
	q := Query{State: jobstate.State(field(r, "state")), Service: field(r, "service"), Task: field(r, "task"),
		Text: field(r, "q"), Size: c.cfg.PageSize}
	if !q.State.Valid() {
		q.State = ""
	}
	if p, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && p > 0 {
		q.Page = min(p, maxPage)
	}
	return q
}

func (q Query) values(page int) string {
	v := url.Values{}
	for k, s := range map[string]string{"state": string(q.State), "service": q.Service, "task": q.Task, "q": q.Text} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if page > 0 {
		v.Set("page", strconv.Itoa(page))
	}
	return v.Encode()
}

func (c *Console) jobsPage(r *http.Request, _ *session) (string, frame, int) {
	q := c.jobsQuery(r)
	p := JobsPage{Query: q, Result: c.index.query(q), States: jobstate.States}
	p.Services, p.Tasks = c.index.facets()
	if q.Page > 0 {
		p.Prev = "?" + q.values(min(q.Page-1, p.Result.MaxPage))
	}
	if q.Page < p.Result.MaxPage {
		p.Next = "?" + q.values(q.Page+1)
	}
	return "jobs", frame{Title: "Jobs", Nav: "jobs", Page: p}, http.StatusOK
}

// JobPage is one job's data.
type JobPage struct {
	Job      jobstate.Record
	Payload  Preview
	Result   Preview
	Timeline []jobstate.Record // the bucket's revisions of the record, oldest first
	Graph    *graph.View       // the graph the job is a node of
	GraphErr string
	Problems []string
}

// Preview is a size-capped text shown escaped.
type Preview struct {
	Text      string
	Size      int  // bytes in all
	Truncated bool // Text shows the first maxPreview bytes
}

func preview(b []byte, n int) Preview {
	p := Preview{Size: len(b)}
	var out bytes.Buffer
	if json.Valid(b) && json.Indent(&out, b, "", "  ") == nil {
		b = out.Bytes()
	}
	if len(b) > n {
		b, p.Truncated = b[:n], true
	}
	p.Text = string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
	return p
}

func (c *Console) jobPage(r *http.Request, _ *session) (string, frame, int) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	id := r.PathValue("id")
	rec, err := jobs.Get(ctx, c.js, id)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, jobstate.ErrNotFound) {
			status = http.StatusNotFound
		}
		return "done", frame{Title: "Job", Nav: "jobs", Error: err.Error()}, status
	}
	p := JobPage{Job: rec}
	problem := func(what string, err error) { p.Problems = append(p.Problems, what+": "+err.Error()) }
	if kv, err := c.js.KeyValue(ctx, events.BucketJobs); err == nil {
		if hist, err := kv.History(ctx, id); err == nil {
			for _, e := range hist {
				var h jobstate.Record
				if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &h) == nil {
					p.Timeline = append(p.Timeline, h)
				}
			}
		} else {
			problem("attempts", err)
		}
	}
	if rec.RequestSeq > 0 {
		if m, err := c.message(ctx, events.StreamJobs, rec.RequestSeq); err != nil {
			problem("payload", err)
		} else if j, err := jobs.Decode(m.Data); err != nil {
			p.Payload = preview(m.Data, maxPreview)
		} else {
			p.Payload = preview(j.Payload, maxPreview)
		}
	}
	if rec.ResultSeq > 0 {
		if m, err := c.message(ctx, events.StreamResults, rec.ResultSeq); err != nil {
			problem("result", err)
		} else {
			p.Result = preview(m.Data, maxPreview)
		}
	}
	if rec.Graph != "" {
		if v, err := graph.Load(ctx, c.js, rec.Graph); err != nil {
			p.GraphErr = err.Error()
		} else {
			p.Graph = &v
		}
	}
	return "job", frame{Title: "Job " + id, Nav: "jobs", Page: p}, http.StatusOK
}

func (c *Console) message(ctx context.Context, streamName string, seq uint64) (*jetstream.RawStreamMsg, error) {
	s, err := c.js.Stream(ctx, streamName)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", streamName, err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("message %d of %s: %w", seq, streamName, err)
	}
	return m, nil
}

func (c *Console) requeueJob(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	c.act(w, r, s, "job-requeue", id, "/console/jobs/"+url.PathEscape(id), func(ctx context.Context) (string, error) {
		q, err := jobs.Requeue(ctx, c.js, id)
		if errors.Is(err, jobstate.ErrNotFound) { // not a job: a graph's id resumes the graph
			g, gerr := graph.Requeue(ctx, c.js, id)
			if gerr == nil {
				return fmt.Sprintf("requeued graph %s: %d dead nodes requeued, %d waiting again", g.Graph, len(g.Requeued), len(g.Reset)), nil
			}
			return "", errors.Join(err, gerr)
		}
		return fmt.Sprintf("requeued job %s on %s (JOBS seq %d)", q.ID, q.Subject, q.Seq), err
	})
}

func (c *Console) cancelJob(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	c.act(w, r, s, "job-cancel", id, "/console/jobs/"+url.PathEscape(id), func(ctx context.Context) (string, error) {
		res, err := graph.Cancel(ctx, c.js, id) // a graph's id cancels its unfinished nodes
		if res.Graph != "" {
			return fmt.Sprintf("cancelled graph %s: %d unfinished nodes", res.Graph, len(res.Jobs)), err
		}
		return fmt.Sprintf("cancelled job %s", id), err
	})
}

// act runs one action: it audits it (log line and event, with a fresh
// correlation id) and sends the operator back to back with what happened,
// or shows the error.
func (c *Console) act(w http.ResponseWriter, r *http.Request, s *session, action, target, back string, fn func(context.Context) (string, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	cid := events.NewID()
	ctx = events.WithCorrelationID(ctx, cid)
	done, err := fn(ctx)
	a := Audit{Operator: s.user, Action: action, Target: target, Outcome: "ok", Detail: done, CorrelationID: cid, Client: clientAddr(r)}
	if err != nil {
		a.Outcome, a.Detail = "failed", err.Error()
	}
	c.audit(ctx, a)
	if err != nil {
		c.render(w, http.StatusConflict, "done", frame{Title: "Not done", User: s.user, CSRF: s.csrf,
			Error: a.Detail, Page: Done{Back: back, CorrelationID: cid}})
		return
	}
	c.auth.flash(s, clip(done, 300)+" · correlation id "+cid)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// Done is the data of the page that says an action failed (or any error).
type Done struct {
	Back          string
	CorrelationID string
}
