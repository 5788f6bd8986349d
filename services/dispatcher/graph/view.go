package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
)

// The read API of a graph, for `hub jobs show|ls --graph` and the
// operator console: Load returns its nodes with their states and its
// edges, View.Draw a text drawing.

// ErrNotFound is returned for an id that is neither a graph nor a node.
var ErrNotFound = errors.New("job graph not found")

// Graph states, derived from the nodes' states.
const (
	StateRunning   = "running"   // some node is not finished, none is stuck
	StateBlocked   = "blocked"   // a node is dead: its descendants wait until it is requeued
	StateDone      = "done"      // every node is done
	StateCancelled = "cancelled" // cancelled (hub jobs cancel)
)

// View is a graph with its nodes' states.
type View struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	State       string         `json:"state"`
	CreatedAt   time.Time      `json:"created_at"`
	CancelledAt time.Time      `json:"cancelled_at,omitzero"`
	Counts      map[string]int `json:"counts"` // nodes by state
	Nodes       []NodeView     `json:"nodes"`  // by level (depth from the roots), then id
	Edges       [][2]string    `json:"edges"`
}

// NodeView is one node and its job's record.
type NodeView struct {
	ID        string         `json:"id"`
	JobID     string         `json:"job_id"`
	Level     int            `json:"level"`
	Service   string         `json:"service,omitempty"`
	Task      string         `json:"task,omitempty"`
	Odoo      string         `json:"odoo,omitempty"` // "<model> <op>" for an Odoo node
	State     jobstate.State `json:"state"`
	Attempts  int            `json:"attempts"`
	LastError string         `json:"last_error,omitempty"`
	UpdatedAt time.Time      `json:"updated_at,omitzero"`
	Parents   []string       `json:"parents,omitempty"`
}

// Load returns graph id's view. id may also be one of its nodes' job ids.
func Load(ctx context.Context, js jetstream.JetStream, id string) (View, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return View{}, fmt.Errorf("graph %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return View{}, err
	}
	rec, err := getRecord(ctx, kv, id)
	if errors.Is(err, ErrNotFound) {
		if g, _, ok := strings.Cut(id, "."); ok {
			rec, err = getRecord(ctx, kv, g)
		}
	}
	if err != nil {
		return View{}, err
	}
	store, err := jobstate.Bind(ctx, js)
	if err != nil {
		return View{}, err
	}
	recs, err := store.List(ctx, jobstate.Filter{Graph: rec.ID})
	if err != nil {
		return View{}, err
	}
	return view(rec, recs), nil
}

func getRecord(ctx context.Context, kv jetstream.KeyValue, id string) (Record, error) {
	if !jobstate.ValidID(id) || strings.Contains(id, ".") {
		return Record{}, fmt.Errorf("graph %q: %w", id, ErrNotFound)
	}
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, fmt.Errorf("graph %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("graph %s: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Record{}, fmt.Errorf("graph %s: stored value is not a graph: %w", id, err)
	}
	return r, nil
}

func view(rec Record, recs []jobstate.Record) View {
	byNode := make(map[string]jobstate.Record, len(recs))
	for _, r := range recs {
		byNode[r.Node] = r
	}
	g := rec.Graph
	parents := g.Parents()
	v := View{ID: rec.ID, Name: rec.Name, Description: rec.Description, CreatedAt: rec.CreatedAt, CancelledAt: rec.CancelledAt,
		Counts: map[string]int{}, Edges: g.Edges}
	if v.Edges == nil {
		v.Edges = [][2]string{}
	}
	for level, ids := range g.Levels() {
		for _, n := range ids {
			node := g.Nodes[n]
			r, ok := byNode[n]
			nv := NodeView{ID: n, JobID: JobID(rec.ID, n), Level: level, Service: node.Service, Task: node.Task, State: r.State,
				Attempts: r.Attempts, LastError: r.LastError, UpdatedAt: r.UpdatedAt, Parents: parents[n]}
			if node.Odoo != nil {
				nv.Odoo = node.Odoo.Model + " " + node.Odoo.Op
			}
			if !ok {
				nv.State = "unrecorded" // not yet picked up, or expired
			}
			v.Counts[string(nv.State)]++
			v.Nodes = append(v.Nodes, nv)
		}
	}
	switch {
	case !rec.CancelledAt.IsZero():
		v.State = StateCancelled
	case v.Counts[string(jobstate.Done)] == len(v.Nodes):
		v.State = StateDone
	case v.Counts[string(jobstate.Dead)] > 0:
		v.State = StateBlocked
	default:
		v.State = StateRunning
	}
	return v
}

// Draw is the graph as text: a header, then one line per node by level,
// each naming its parents.
//
//	graph 0193… expense-ocr: running, 3 nodes (started 1, done 1, wait_dependencies 1)
//	  level 0
//	    ocr    done               ocr/extract         attempts 1
//	  level 1
//	    llm    started            llm/summarize       attempts 1  ← ocr
//	  level 2
//	    write  wait_dependencies  odoo hr.expense write            ← ocr, llm
func (v View) Draw() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %s %s: %s, %d nodes (%s)\n", v.ID, v.Name, v.State, len(v.Nodes), counts(v.Counts))
	if v.Description != "" {
		fmt.Fprintf(&b, "  %s\n", oneLine(v.Description, 100))
	}
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	level := -1
	for _, n := range v.Nodes {
		if n.Level != level {
			level = n.Level
			fmt.Fprintf(tw, "  level %d\n", level)
		}
		what := n.Service + "/" + n.Task
		if n.Odoo != "" {
			what = "odoo " + n.Odoo
		}
		after := ""
		if len(n.Parents) > 0 {
			after = "← " + joinClipped(n.Parents, 6)
		}
		errText := ""
		if n.LastError != "" && n.State != jobstate.Done {
			errText = "  " + oneLine(n.LastError, 60)
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\tattempts %d\t%s%s\n", n.ID, n.State, what, n.Attempts, after, errText)
	}
	_ = tw.Flush()
	return b.String()
}

func counts(c map[string]int) string {
	var parts []string
	for _, s := range append(jobstate.States, "unrecorded") {
		if c[string(s)] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, c[string(s)]))
		}
	}
	return strings.Join(parts, ", ")
}

func joinClipped(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
}

// oneLine makes s one line of at most n runes: line breaks and other
// control characters become spaces, so a service's error cannot forge
// lines of the drawing.
func oneLine(s string, n int) string {
	r := []rune(strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return ' '
		}
		return c
	}, s))
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}

// Cancelled says what Cancel did.
type Cancelled struct {
	Graph string   `json:"graph,omitempty"`
	Jobs  []string `json:"jobs"` // the job ids marked cancelled
}

// Cancel cancels graph id: it marks the graph cancelled and every node
// that is not finished cancelled, so none starts; a node already being
// called finishes, and its children are not started. id may also be a
// job that is not part of a graph and not finished: it is marked
// cancelled, and a delivery of it is skipped.
func Cancel(ctx context.Context, js jetstream.JetStream, id string) (Cancelled, error) {
	store, err := jobstate.Bind(ctx, js)
	if err != nil {
		return Cancelled{}, err
	}
	kv, err := js.KeyValue(ctx, Bucket)
	var rec Record
	if err == nil {
		rec, err = getRecord(ctx, kv, id)
	}
	if err != nil {
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return Cancelled{}, err
		}
		// Not a graph: a single job.
		ok, err := cancelJob(ctx, store, id)
		if err != nil {
			return Cancelled{}, err
		}
		if !ok {
			return Cancelled{}, fmt.Errorf("job %s is finished: nothing to cancel", id)
		}
		return Cancelled{Jobs: []string{id}}, nil
	}
	if rec.CancelledAt.IsZero() {
		rec.CancelledAt = time.Now().UTC()
		b, err := json.Marshal(rec)
		if err != nil {
			return Cancelled{}, err
		}
		if _, err := kv.Put(ctx, rec.ID, b); err != nil {
			return Cancelled{}, fmt.Errorf("graph %s: mark cancelled: %w", rec.ID, err)
		}
	}
	out := Cancelled{Graph: rec.ID, Jobs: []string{}}
	for _, n := range rec.Graph.NodeIDs() {
		ok, err := cancelJob(ctx, store, JobID(rec.ID, n))
		if err != nil && !errors.Is(err, jobstate.ErrNotFound) {
			return out, err
		}
		if ok {
			out.Jobs = append(out.Jobs, JobID(rec.ID, n))
		}
	}
	return out, nil
}

// cancelJob marks job id cancelled unless it is finished.
func cancelJob(ctx context.Context, store *jobstate.Store, id string) (bool, error) {
	_, err := store.Cancel(ctx, id)
	if errors.Is(err, jobstate.ErrFinished) {
		return false, nil
	}
	return err == nil, err
}

// Requeued says what Requeue did.
type Requeued struct {
	Graph    string   `json:"graph"`
	Requeued []string `json:"requeued"` // dead nodes whose job message was published again
	Reset    []string `json:"reset"`    // dead nodes that never got a message, waiting again
}

// Requeue resumes graph id (`hub jobs requeue GRAPH`): each dead node with
// a job message is requeued (jobs.Requeue), each dead node that could not
// start (its request failed) waits again, and the graph's message is
// published again so the dispatcher looks at every waiting node.
func Requeue(ctx context.Context, js jetstream.JetStream, id string) (Requeued, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if err != nil {
		return Requeued{}, fmt.Errorf("graph %s: %w", id, err)
	}
	rec, err := getRecord(ctx, kv, id)
	if err != nil {
		return Requeued{}, err
	}
	if !rec.CancelledAt.IsZero() {
		return Requeued{}, fmt.Errorf("graph %s is cancelled", id)
	}
	store, err := jobstate.Bind(ctx, js)
	if err != nil {
		return Requeued{}, err
	}
	recs, err := store.List(ctx, jobstate.Filter{Graph: id, State: jobstate.Dead})
	if err != nil {
		return Requeued{}, err
	}
	out := Requeued{Graph: id, Requeued: []string{}, Reset: []string{}}
	for _, r := range recs {
		if r.RequestSeq > 0 {
			if _, err := jobs.Requeue(ctx, js, r.ID); err != nil {
				return out, err
			}
			out.Requeued = append(out.Requeued, r.ID)
			continue
		}
		cur, rev, err := store.GetLatest(ctx, r.ID)
		if err != nil {
			return out, err
		}
		if cur.State != jobstate.Dead {
			continue
		}
		cur.State, cur.DoneAt = jobstate.WaitDependencies, time.Time{}
		if err := store.Update(ctx, cur, rev); err != nil && !errors.Is(err, jobstate.ErrChanged) {
			return out, err
		}
		out.Reset = append(out.Reset, r.ID)
	}
	if len(out.Reset) == 0 {
		return out, nil
	}
	s, err := js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return out, err
	}
	orig, err := s.GetMsg(ctx, rec.RequestSeq)
	if err != nil {
		return out, fmt.Errorf("graph %s: message %d of %s: %w (expired with the stream's max_age?)", id, rec.RequestSeq, events.StreamJobs, err)
	}
	if _, err := stream.Publish(ctx, js, jobs.RequeueMsg(orig, id, jobs.GraphService, time.Now())); err != nil {
		return out, fmt.Errorf("graph %s: publish again: %w", id, err)
	}
	return out, nil
}
