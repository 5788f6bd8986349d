// Package graph runs job graphs (schemas/graph.schema.json): queue_job's
// chain, group and on_done on JetStream. A graph arrives as one message on
// jobs.graph.<name>; the dispatcher's jobs-graph consumer hands it to
// Engine.Submit, which stores its definition in bucket graphs, records
// every node in bucket jobs as wait_dependencies (key <graph>.<node>) and
// starts the roots. When a node's job is recorded done, the dispatcher
// calls Engine.Done before it acknowledges the job's message, and each
// child whose parents are all recorded done is started: its request is
// computed (payload, or payload_from over its parents' results) and its
// job published on jobs.<service>.<task> (or its command on
// odoo.cmd.<model>.<op>).
//
// Exactly once under crashes. Readiness is read from the stored records
// (on the bucket's stream leader), never from counters in memory. A
// child's message has a fixed ce-id and Nats-Msg-Id, <graph>.<node> (or
// the node's identity_key), so starting it twice stores it once, and its
// record moves from wait_dependencies only by a compare-and-set on the
// revision read. Every step is idempotent and runs before the parent's
// message is acknowledged: a crash anywhere in it redelivers the parent,
// whose job is answered from the result cache and recorded done again,
// and the step runs again. Two parents finishing at once both read the
// other's record after writing their own, so one of them sees the child
// ready. A node never starts before its parents: it is published only
// after each parent's done record was read.
package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/cache"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket holds each graph's definition (Record), keyed by graph id.
const Bucket = events.BucketGraphs

// Config is dispatcher.graphs.
type Config struct {
	MaxNodes int `yaml:"max_nodes"` // the most nodes a graph may have; default 1000
}

// DefaultConfig allows jobs.DefaultMaxNodes nodes.
func DefaultConfig() Config { return Config{MaxNodes: jobs.DefaultMaxNodes} }

// Validate reports every problem under path.
func (c Config) Validate(path string) config.Problems {
	var ps config.Problems
	if c.MaxNodes < 1 || c.MaxNodes > 100_000 {
		ps.Add(path+".max_nodes", "must be 1 to 100000 (default %d)", jobs.DefaultMaxNodes)
	}
	return ps
}

// Record is the value of a graph's key in bucket graphs.
type Record struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Description   string     `json:"description,omitempty"`
	CorrelationID string     `json:"correlation_id,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	CancelledAt   time.Time  `json:"cancelled_at,omitzero"`
	RequestSeq    uint64     `json:"request_seq,omitempty"` // the graph's message in JOBS (Requeue publishes it again)
	Graph         jobs.Graph `json:"graph"`
}

// Options are an Engine's dependencies.
type Options struct {
	Config    Config
	Services  func(string) bool // the configured services
	Store     *jobstate.Store
	Cache     *cache.Cache // a parent's result when RESULTS no longer holds it
	Streams   stream.Config
	Retention time.Duration // graph definitions expire this long after submission (job_retention); 0 = never
	Logger    *slog.Logger

	// BeforeStart, when set, runs before each node is started: tests stop
	// a dispatcher there, between a parent's done and its child's start.
	BeforeStart func(ctx context.Context, graph, node string) error
}

// Engine submits graphs and advances them.
type Engine struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	opt    Options
	lim    jobs.GraphLimits
	client *jobs.Client
	log    *slog.Logger

	mu      sync.Mutex
	specs   map[string]*spec           // parsed definitions by graph id (immutable)
	done    map[string]map[string]bool // nodes read done, by graph id: done is final for a graph node
	streams map[string]jetstream.Stream
}

// spec is a graph's definition, parsed once.
type spec struct {
	rec      Record
	parents  map[string][]string
	children map[string][]string
	exprs    map[string]*route.Expr
}

// maxCached bounds the graphs whose definitions and done nodes are kept in
// memory; past it the cache starts over (it is only a hint: everything is
// read again from the buckets).
const maxCached = 256

// Open ensures bucket graphs and returns an engine.
func Open(ctx context.Context, js jetstream.JetStream, opt Options) (*Engine, error) {
	kv, err := stream.EnsureBucket(ctx, js, stream.Bucket(opt.Streams, Bucket, "Pulse Hub job graphs (dispatcher)", 1, opt.Retention))
	if err != nil {
		return nil, err
	}
	client, err := jobs.NewClient(ctx, js)
	if err != nil {
		return nil, err
	}
	e := &Engine{js: js, kv: kv, opt: opt, client: client, log: opt.Logger,
		specs: map[string]*spec{}, done: map[string]map[string]bool{}, streams: map[string]jetstream.Stream{}}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.lim = jobs.GraphLimits{MaxNodes: opt.Config.MaxNodes, Services: opt.Services}
	return e, nil
}

// ConsumerName and ConsumerFilter are the graph messages' consumer.
var (
	ConsumerName   = jobs.ConsumerName(jobs.GraphService)
	ConsumerFilter = jobs.ConsumerFilter(jobs.GraphService)
)

// JobID is the job id of a graph's node: <graph>.<node>.
func JobID(graph, node string) string { return graph + "." + node }

// Submit handles one graph message: it checks the graph (a bad one is a
// permanent error, and nothing is stored), stores its definition, records
// its nodes wait_dependencies and starts its roots. It is idempotent: a
// redelivery finds what is stored and goes on from there.
func (e *Engine) Submit(ctx context.Context, m *consume.Msg) error {
	id := m.Event.ID
	if id == "" {
		id = fmt.Sprintf("%s-%d", m.Stream(), m.Seq()) // published without a ce-id
	}
	if !jobstate.ValidID(id) || len(id) > jobs.MaxGraphIDLen || strings.Contains(id, ".") {
		return events.Permanentf("graph id (ce-id) %.64q… of %d bytes: a graph id is 1-%d letters, digits or -_=/ (no dot)", id, len(id), jobs.MaxGraphIDLen)
	}
	lim := e.lim
	lim.MaxAge = 0 // checked by EnqueueGraph; a late redelivery must not refuse what was accepted
	g, err := jobs.ParseGraph(m.Data(), lim)
	if err != nil {
		return err
	}
	rec := Record{ID: id, Name: g.GraphName(), Description: g.Description, CorrelationID: m.Event.Correlation(), CreatedAt: m.Event.Time.UTC(),
		RequestSeq: m.Seq(), Graph: g}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = time.Now().UTC()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return events.Permanentf("graph %s: %w", id, err)
	}
	_, err = e.kv.Create(ctx, id, b)
	again := errors.Is(err, jetstream.ErrKeyExists) // a redelivery, or the graph's message published again
	if err != nil && !again {
		return fmt.Errorf("graph %s: store definition: %w", id, err)
	}
	sp, err := e.spec(ctx, id) // the stored one: a redelivery goes on with what was first stored
	if err != nil {
		return err
	}
	if err := e.createNodes(ctx, sp); err != nil {
		return err
	}
	// The first delivery starts the roots. A redelivery, or the graph's
	// message published again, looks at every node: one whose parents
	// are all done and that still waits is started.
	sweep := again || m.Meta == nil || m.Meta.NumDelivered > 1
	var start []string
	for _, n := range sp.rec.Graph.NodeIDs() {
		if sweep || len(sp.parents[n]) == 0 {
			start = append(start, n)
		}
	}
	m.Logger().Info("job graph submitted", "graph", id, "name", sp.rec.Name, "nodes", len(sp.rec.Graph.Nodes), "sweep", sweep)
	return e.advance(ctx, sp, start, func() { _ = m.Raw.InProgress() })
}

// createNodes records every node wait_dependencies, unless it has a
// record already. The writes travel together.
func (e *Engine) createNodes(ctx context.Context, sp *spec) error {
	futures := make([]jetstream.PubAckFuture, 0, len(sp.rec.Graph.Nodes))
	for _, n := range sp.rec.Graph.NodeIDs() {
		node := sp.rec.Graph.Nodes[n]
		r := jobstate.Record{ID: JobID(sp.rec.ID, n), Service: node.Service, Task: node.Task, State: jobstate.WaitDependencies,
			Description: node.Description, IdentityKey: node.IdentityKey, CreatedAt: sp.rec.CreatedAt, Graph: sp.rec.ID, Node: n}
		if node.Odoo != nil {
			r.Service, r.Task = "odoo", node.Odoo.Op
			if r.Description == "" {
				r.Description = "odoo.cmd " + node.Odoo.Model + " " + node.Odoo.Op
			}
		}
		f, err := e.opt.Store.CreateAsync(r)
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if !jobstate.IsExists(err) {
				return fmt.Errorf("graph %s: record node: %w", sp.rec.ID, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Done advances the graph of rec, a node's job just recorded done: each
// child whose parents are all done is started. rec's done write must be
// stored (acknowledged) before Done is called: a sibling parent finishing
// at the same time must be able to read it. progress, when not nil, is
// called every progressEvery starts (the parent message's in-progress
// ack, so a large fan-out is not redelivered while it starts). An error
// leaves the parent's message unacknowledged, to run this again.
func (e *Engine) Done(ctx context.Context, rec jobstate.Record, progress func()) error {
	if rec.Graph == "" || rec.State != jobstate.Done {
		return nil
	}
	sp, err := e.spec(ctx, rec.Graph)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		e.log.Warn("job graph gone: its node's children are not started", "graph", rec.Graph, "node", rec.Node)
		return nil
	}
	if err != nil {
		return err
	}
	e.markDone(rec.Graph, rec.Node)
	return e.advance(ctx, sp, sp.children[rec.Node], progress)
}

// progressEvery is how many nodes advance looks at between two calls of
// its progress function.
const progressEvery = 200

// advance starts each of the candidates that is ready, and goes on with
// the children of those that are done as soon as started (Odoo nodes).
func (e *Engine) advance(ctx context.Context, sp *spec, candidates []string, progress func()) error {
	queue := append([]string(nil), candidates...)
	for i := 1; len(queue) > 0; i++ {
		if progress != nil && i%progressEvery == 0 {
			progress()
		}
		n := queue[0]
		queue = queue[1:]
		ready, err := e.ready(ctx, sp, n)
		if err != nil {
			return err
		}
		if !ready {
			continue
		}
		doneNow, err := e.start(ctx, sp, n)
		if err != nil {
			return err
		}
		if doneNow {
			e.markDone(sp.rec.ID, n)
			queue = append(queue, sp.children[n]...)
		}
	}
	return nil
}

// ready reports whether every parent of n is recorded done. It stops at
// the first that is not, and reads no parent it has read done before.
func (e *Engine) ready(ctx context.Context, sp *spec, n string) (bool, error) {
	for _, p := range sp.parents[n] {
		if e.isDone(sp.rec.ID, p) {
			continue
		}
		r, _, err := e.opt.Store.GetLatest(ctx, JobID(sp.rec.ID, p))
		if errors.Is(err, jobstate.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if r.State != jobstate.Done {
			return false, nil
		}
		e.markDone(sp.rec.ID, p)
	}
	return true, nil
}

// start starts node n if its record still waits: it computes its request,
// publishes its job (or Odoo command) and moves its record on from the
// revision it read. doneNow is true for an Odoo node, done once its
// command is stored.
func (e *Engine) start(ctx context.Context, sp *spec, n string) (doneNow bool, err error) {
	id := JobID(sp.rec.ID, n)
	rec, rev, err := e.opt.Store.GetLatest(ctx, id)
	if errors.Is(err, jobstate.ErrNotFound) {
		e.log.Warn("job graph node has no record (expired?): not started", "graph", sp.rec.ID, "node", n)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if rec.State != jobstate.WaitDependencies {
		return false, nil // started already, or cancelled
	}
	if e.opt.BeforeStart != nil {
		if err := e.opt.BeforeStart(ctx, sp.rec.ID, n); err != nil {
			return false, err
		}
	}
	node := sp.rec.Graph.Nodes[n]
	payload, err := e.request(ctx, sp, n)
	if err != nil {
		if !events.IsPermanent(err) {
			return false, err
		}
		rec.State, rec.LastError, rec.DoneAt = jobstate.Dead, err.Error(), time.Now().UTC()
		e.log.Warn("job graph node cannot start", "graph", sp.rec.ID, "node", n, "error", err.Error())
		return false, e.update(ctx, rec, rev)
	}
	ctx = events.WithCorrelationID(ctx, sp.rec.CorrelationID)
	if node.Odoo != nil {
		return e.startOdoo(ctx, sp, n, rec, rev, payload)
	}
	job := node.Job
	job.Payload = payload
	data, err := json.Marshal(job)
	if err != nil {
		return false, err
	}
	ev := events.New(ctx, jobs.Source, jobs.Type, data)
	ev.ID = id
	out, err := e.client.Publish(ctx, ev, node.Service, node.Task, job)
	if err != nil {
		if events.IsPermanent(err) {
			rec.State, rec.LastError, rec.DoneAt = jobstate.Dead, err.Error(), time.Now().UTC()
			return false, e.update(ctx, rec, rev)
		}
		return false, err
	}
	switch {
	case out.Duplicate && out.ID != id:
		rec.State, rec.DoneAt = jobstate.Cancelled, time.Now().UTC()
		rec.LastError = fmt.Sprintf("identity_key %q: job %s holds it (JOBS duplicate window)", node.IdentityKey, out.ID)
	case !out.ETA.IsZero():
		rec.State, rec.ETA, rec.RequestSubject = jobstate.Scheduled, out.ETA.UTC(), events.JobSubject(node.Service, node.Task)
	default:
		rec.State, rec.RequestSubject, rec.RequestSeq = jobstate.Pending, out.Subject, out.Seq
	}
	return false, e.update(ctx, rec, rev)
}

// OdooCmdType is the ce-type of an Odoo command a graph node publishes.
const OdooCmdType = "dev.pulsehub.odoo-cmd"

func (e *Engine) startOdoo(ctx context.Context, sp *spec, n string, rec jobstate.Record, rev uint64, payload json.RawMessage) (bool, error) {
	node := sp.rec.Graph.Nodes[n]
	var v any
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &v); err != nil {
			return false, err
		}
	}
	body, err := node.OdooCommand(v)
	if err != nil {
		rec.State, rec.LastError, rec.DoneAt = jobstate.Dead, err.Error(), time.Now().UTC()
		return false, e.update(ctx, rec, rev)
	}
	ev := events.New(ctx, "/dispatcher/graph", OdooCmdType, body)
	ev.ID = rec.ID
	subject := events.OdooCmdSubject(node.Odoo.Model, node.Odoo.Op)
	msg := ev.Msg(subject)
	if node.IdentityKey != "" {
		msg.Header.Set(events.HeaderMsgID, node.IdentityKey)
	}
	ack, err := stream.Publish(ctx, e.js, msg)
	if err != nil {
		return false, fmt.Errorf("graph %s node %s: publish %s: %w", sp.rec.ID, n, subject, err)
	}
	now := time.Now().UTC()
	rec.State, rec.StartedAt, rec.DoneAt, rec.Attempts = jobstate.Done, now, now, 1
	rec.RequestSubject, rec.RequestSeq, rec.ResultSubject, rec.ResultSeq = subject, ack.Sequence, subject, ack.Sequence
	if err := e.opt.Store.Update(ctx, rec, rev); err != nil {
		if errors.Is(err, jobstate.ErrChanged) {
			return false, nil // cancelled meanwhile; the writer still gets the command
		}
		return false, err
	}
	return true, nil
}

// update writes rec from revision rev; a record changed meanwhile (the
// dispatcher picked the job up, or an operator cancelled it) wins.
func (e *Engine) update(ctx context.Context, rec jobstate.Record, rev uint64) error {
	if err := e.opt.Store.Update(ctx, rec, rev); err != nil && !errors.Is(err, jobstate.ErrChanged) {
		return err
	}
	return nil
}

// request is node n's request: its payload, or its payload_from over its
// parents' results. A jq error is permanent.
func (e *Engine) request(ctx context.Context, sp *spec, n string) (json.RawMessage, error) {
	node := sp.rec.Graph.Nodes[n]
	x := sp.exprs[n]
	if x == nil {
		return node.Payload, nil
	}
	parents := make(map[string]any, len(sp.parents[n]))
	for _, p := range sp.parents[n] {
		v, err := e.result(ctx, sp, p)
		if err != nil {
			return nil, err
		}
		parents[p] = v
	}
	in := route.Input{Body: map[string]any{"parents": parents, "graph": map[string]any{"id": sp.rec.ID, "name": sp.rec.Name}}}
	v, err := x.Eval(ctx, in)
	if err != nil {
		return nil, events.Permanentf("payload_from: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, events.Permanentf("payload_from: %w", err)
	}
	return b, nil
}

// result is parent p's result as jq sees it: its result message's body
// (from RESULTS, else the result cache), or for an Odoo node {subject,
// seq, command}.
func (e *Engine) result(ctx context.Context, sp *spec, p string) (any, error) {
	id := JobID(sp.rec.ID, p)
	r, _, err := e.opt.Store.GetLatest(ctx, id)
	if err != nil {
		return nil, err
	}
	streamName := events.StreamResults
	if sp.rec.Graph.Nodes[p].Odoo != nil {
		streamName = events.StreamOdooCmd
	}
	var data []byte
	if r.ResultSeq > 0 {
		if s, err := e.stream(ctx, streamName); err == nil {
			if m, err := s.GetMsg(ctx, r.ResultSeq); err == nil {
				data = m.Data
			}
		}
	}
	if data == nil && sp.rec.Graph.Nodes[p].Odoo == nil && e.opt.Cache != nil {
		key := events.StableID(jobs.ConsumerName(r.Service), id)
		if b, ok, err := e.opt.Cache.Get(ctx, key); err == nil && ok {
			data = b
		}
	}
	if data == nil {
		return nil, events.Permanentf("parent %s: its result is gone from %s and the result cache", p, streamName)
	}
	v, err := route.DecodeBody("application/json", data)
	if err != nil {
		return nil, err
	}
	if sp.rec.Graph.Nodes[p].Odoo != nil {
		return map[string]any{"subject": r.ResultSubject, "seq": r.ResultSeq, "command": v}, nil
	}
	return v, nil
}

// stream returns a handle on stream name, looked up once (a lookup is a
// STREAM.INFO request).
func (e *Engine) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	e.mu.Lock()
	s := e.streams[name]
	e.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := e.js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.streams[name] = s
	e.mu.Unlock()
	return s, nil
}

// spec returns graph id's parsed definition.
func (e *Engine) spec(ctx context.Context, id string) (*spec, error) {
	e.mu.Lock()
	sp := e.specs[id]
	e.mu.Unlock()
	if sp != nil {
		return sp, nil
	}
	ent, err := e.kv.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("graph %s: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal(ent.Value(), &rec); err != nil {
		return nil, events.Permanentf("graph %s: stored value is not a graph: %w", id, err)
	}
	sp = &spec{rec: rec, parents: rec.Graph.Parents(), children: rec.Graph.Children(), exprs: map[string]*route.Expr{}}
	for n, node := range rec.Graph.Nodes {
		if node.PayloadFrom != "" {
			if sp.exprs[n], err = route.Compile(node.PayloadFrom); err != nil {
				return nil, events.Permanentf("graph %s node %s: payload_from: %w", id, n, err)
			}
		}
	}
	e.mu.Lock()
	if len(e.specs) >= maxCached {
		e.specs = map[string]*spec{}
	}
	e.specs[id] = sp
	e.mu.Unlock()
	return sp, nil
}

func (e *Engine) markDone(graph, node string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.done[graph]
	if d == nil {
		if len(e.done) >= maxCached {
			e.done = map[string]map[string]bool{}
		}
		d = map[string]bool{}
		e.done[graph] = d
	}
	d[node] = true
}

func (e *Engine) isDone(graph, node string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.done[graph][node]
}
