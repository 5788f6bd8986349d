package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/dispatcher/channel"
	"github.com/nats-io/nats.go/jetstream"
)

// A job graph (schemas/graph.schema.json) is jobs enqueued as one unit:
// queue_job's chain, group and on_done. It is one message on
// jobs.graph.<name>; the dispatcher's jobs-graph consumer records its
// nodes and starts them as their parents finish (package graph).

// GraphService is the reserved service token of graph messages
// (jobs.graph.<name>): no configured service may take the name.
const GraphService = "graph"

// GraphType is the ce-type of a graph message.
const GraphType = "dev.pulsehub.job-graph"

// Bounds of a graph besides its node count (dispatcher.graphs.max_nodes).
const (
	// MaxGraphIDLen bounds a graph's id (its message's ce-id): a node's
	// job id is <graph id>.<node id>, a key of bucket jobs within
	// events.MaxIDLen.
	MaxGraphIDLen = events.MaxIDLen - 1 - events.MaxNameLen
	// EdgesPerNode bounds the edges: at most this many per node.
	EdgesPerNode = 10
	// MaxExprLen bounds a node's payload_from.
	MaxExprLen = 4096
	// DefaultMaxNodes is dispatcher.graphs.max_nodes by default.
	DefaultMaxNodes = 1000
)

// GraphBody is the body of a graph message.
type GraphBody struct {
	Graph Graph `json:"graph"`
}

// Graph is a job graph: nodes by id and [parent, child] edges.
type Graph struct {
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	IdentityKey string          `json:"identity_key,omitempty"`
	Nodes       map[string]Node `json:"nodes"`
	Edges       [][2]string     `json:"edges,omitempty"`
}

// Node is one node: a microservice call (Service, Task, the job fields)
// or an Odoo command (Odoo).
type Node struct {
	Service     string      `json:"service,omitempty"`
	Task        string      `json:"task,omitempty"`
	Odoo        *OdooTarget `json:"odoo,omitempty"`
	PayloadFrom string      `json:"payload_from,omitempty"` // jq over {parents, graph}
	Job                     // payload, identity_key, eta, max_retries, retry_pattern, description, path, method, result_subject
}

// OdooTarget is what an Odoo command node writes.
type OdooTarget struct {
	Model string `json:"model"`
	Op    string `json:"op"`
}

// MarshalJSON leaves out a node's payload when it has none (the job body
// always carries one).
func (n Node) MarshalJSON() ([]byte, error) {
	type plain Node
	b, err := json.Marshal(plain(n))
	if err != nil || n.Payload != nil {
		return b, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	delete(fields, "payload")
	return json.Marshal(fields)
}

// GraphName is the graph's name, "graph" when it has none.
func (g Graph) GraphName() string {
	if g.Name == "" {
		return GraphService
	}
	return g.Name
}

// Subject is where the graph's message goes: jobs.graph.<name>.
func (g Graph) Subject() string { return events.JobSubject(GraphService, g.GraphName()) }

// GraphLimits is what a graph is checked against besides its shape.
type GraphLimits struct {
	MaxNodes int                 // 0: DefaultMaxNodes
	Services func(s string) bool // nil: every service is known
	MaxAge   time.Duration       // JOBS max_age: a later eta would expire before it fires; 0: unchecked
}

// ParseGraph reads and checks a graph body. Any problem is permanent.
func ParseGraph(data []byte, lim GraphLimits) (Graph, error) {
	if err := schemas.Validate("graph", data); err != nil {
		return Graph{}, events.Permanentf("graph body: %w", err)
	}
	var b GraphBody
	if err := json.Unmarshal(data, &b); err != nil {
		return Graph{}, events.Permanentf("graph body: %w", err)
	}
	if err := b.Graph.Check(lim); err != nil {
		return Graph{}, err
	}
	return b.Graph, nil
}

// Check enforces what the schema cannot: node and edge counts, known
// ends and services, no cycle, compilable expressions, each node's job
// checks, and an Odoo node's static command. Its error is permanent and
// names every problem it found (at most 20).
func (g Graph) Check(lim GraphLimits) error {
	maxNodes := lim.MaxNodes
	if maxNodes <= 0 {
		maxNodes = DefaultMaxNodes
	}
	var ps []string
	add := func(format string, a ...any) {
		if len(ps) < 20 {
			ps = append(ps, fmt.Sprintf(format, a...))
		}
	}
	if g.Name != "" && !channel.ValidName(g.Name) {
		add("name %.64q: use 1-%d letters, digits, '-' or '_'", g.Name, channel.MaxNameLen)
	}
	if err := events.CheckID("identity_key", g.IdentityKey); err != nil {
		add("%v", err)
	}
	switch {
	case len(g.Nodes) == 0:
		add("no nodes")
	case len(g.Nodes) > maxNodes:
		add("%d nodes, the most is %d (dispatcher.graphs.max_nodes)", len(g.Nodes), maxNodes)
	}
	if len(g.Edges) > EdgesPerNode*max(len(g.Nodes), 1) {
		add("%d edges, the most is %d per node", len(g.Edges), EdgesPerNode)
	}
	if len(ps) > 0 { // too large to look at node by node
		return events.Permanentf("graph: %s", strings.Join(ps, "; "))
	}
	for _, id := range g.NodeIDs() {
		n := g.Nodes[id]
		if !events.IsName(id) {
			add("node %.64q: an id is 1-%d letters, digits, '-' or '_'", id, events.MaxNameLen)
			continue
		}
		if err := n.check(lim); err != nil {
			add("node %s: %v", id, err)
		}
	}
	seen := make(map[[2]string]bool, len(g.Edges))
	for i, e := range g.Edges {
		_, a := g.Nodes[e[0]]
		_, b := g.Nodes[e[1]]
		switch {
		case !a || !b:
			add("edge %d [%.64q, %.64q] names an unknown node", i, e[0], e[1])
		case e[0] == e[1]:
			add("edge %d: node %s depends on itself", i, e[0])
		case seen[e]:
			add("edge %d [%s, %s] is given twice", i, e[0], e[1])
		}
		seen[e] = true
	}
	if len(ps) == 0 {
		if cyc := g.cycle(); len(cyc) > 0 {
			add("cycle %s", strings.Join(cyc, " -> "))
		}
	}
	if len(ps) > 0 {
		return events.Permanentf("graph: %s", strings.Join(ps, "; "))
	}
	return nil
}

func (n Node) check(lim GraphLimits) error {
	if n.Odoo != nil {
		if n.Service != "" || n.Task != "" {
			return errors.New("odoo and service/task both given")
		}
		if !events.IsOdooModel(n.Odoo.Model) {
			return fmt.Errorf("odoo model %.64q is not a model name", n.Odoo.Model)
		}
		if n.PayloadFrom == "" {
			var v any
			if len(n.Payload) > 0 {
				if err := json.Unmarshal(n.Payload, &v); err != nil {
					return fmt.Errorf("payload: %w", err)
				}
			}
			if _, err := n.OdooCommand(v); err != nil {
				return err
			}
		}
	} else {
		if !channel.ValidName(n.Service) || !channel.ValidName(n.Task) {
			return fmt.Errorf("service and task are 1-%d letters, digits, '-' or '_'", channel.MaxNameLen)
		}
		if n.Service == GraphService {
			return fmt.Errorf("service %q is reserved for graphs", GraphService)
		}
		if lim.Services != nil && !lim.Services(n.Service) {
			return fmt.Errorf("unknown service %q (not under dispatcher.services)", n.Service)
		}
		if err := n.Job.Check(); err != nil {
			return err
		}
		if lim.MaxAge > 0 && time.Until(n.ETA) > lim.MaxAge {
			return fmt.Errorf("eta %s is further ahead than stream %s keeps messages (max_age %s)", n.ETA.Format(time.RFC3339), events.StreamJobs, lim.MaxAge)
		}
	}
	if n.PayloadFrom != "" {
		if len(n.Payload) > 0 {
			return errors.New("payload and payload_from both given")
		}
		if len(n.PayloadFrom) > MaxExprLen {
			return fmt.Errorf("payload_from is %d bytes, the most is %d", len(n.PayloadFrom), MaxExprLen)
		}
		if _, err := route.Compile(n.PayloadFrom); err != nil {
			return fmt.Errorf("payload_from: %w", err)
		}
	}
	return nil
}

// OdooCommand is the odoo.cmd body of an Odoo node for the request v (an
// object with the command's other fields): v with the node's model and
// op, checked against schemas/odoo-cmd.schema.json.
func (n Node) OdooCommand(v any) ([]byte, error) {
	obj, ok := v.(map[string]any)
	if v == nil {
		obj, ok = map[string]any{}, true
	}
	if !ok {
		return nil, events.Permanentf("odoo node request is %T, not an object", v)
	}
	cmd := make(map[string]any, len(obj)+2)
	for k, x := range obj {
		cmd[k] = x
	}
	cmd["model"], cmd["op"] = n.Odoo.Model, n.Odoo.Op
	b, err := json.Marshal(cmd)
	if err != nil {
		return nil, events.Permanentf("odoo node request: %w", err)
	}
	if err := schemas.Validate("odoo-cmd", b); err != nil {
		return nil, events.Permanent(err)
	}
	return b, nil
}

// NodeIDs lists the node ids, sorted.
func (g Graph) NodeIDs() []string {
	ids := make([]string, 0, len(g.Nodes))
	for id := range g.Nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Parents is each node's parents, in edge order.
func (g Graph) Parents() map[string][]string {
	out := make(map[string][]string, len(g.Nodes))
	for _, e := range g.Edges {
		out[e[1]] = append(out[e[1]], e[0])
	}
	return out
}

// Children is each node's children, in edge order.
func (g Graph) Children() map[string][]string {
	out := make(map[string][]string, len(g.Nodes))
	for _, e := range g.Edges {
		out[e[0]] = append(out[e[0]], e[1])
	}
	return out
}

// Levels groups the node ids by depth (the longest path from a root), each
// level sorted. The graph must have no cycle.
func (g Graph) Levels() [][]string {
	parents := g.Parents()
	depth := make(map[string]int, len(g.Nodes))
	var walk func(string) int
	walk = func(id string) int {
		if d, ok := depth[id]; ok {
			return d
		}
		d := 0
		for _, p := range parents[id] {
			d = max(d, walk(p)+1)
		}
		depth[id] = d
		return d
	}
	var out [][]string
	for _, id := range g.NodeIDs() {
		d := walk(id)
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], id)
	}
	return out
}

// cycle returns the nodes of one cycle, or nil (Kahn's algorithm: what
// cannot be ordered lies on or behind a cycle).
func (g Graph) cycle() []string {
	indeg := make(map[string]int, len(g.Nodes))
	children := g.Children()
	for _, e := range g.Edges {
		indeg[e[1]]++
	}
	var queue []string
	for _, id := range g.NodeIDs() {
		if indeg[id] == 0 {
			queue = append(queue, id)
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, c := range children[id] {
			if indeg[c]--; indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	var left []string
	for _, id := range g.NodeIDs() {
		if indeg[id] > 0 {
			left = append(left, id)
		}
	}
	if len(left) == 0 {
		return nil
	}
	// Walk back along parents still left until a node repeats.
	parents := g.Parents()
	path, at := []string{left[0]}, map[string]int{left[0]: 0}
	for cur := left[0]; ; {
		next := ""
		for _, p := range parents[cur] {
			if indeg[p] > 0 {
				next = p
				break
			}
		}
		if i, ok := at[next]; ok {
			cyc := slices.Clone(path[i:])
			slices.Reverse(cyc) // along the edges
			first := slices.Index(cyc, slices.Min(cyc))
			cyc = append(cyc[first:], cyc[:first]...)
			return append(cyc, cyc[0])
		}
		at[next] = len(path)
		path = append(path, next)
		cur = next
	}
}

// EnqueuedGraph says what EnqueueGraph did.
type EnqueuedGraph struct {
	ID        string `json:"id"`      // the graph's id (its ce-id); for a duplicate, the first graph's when still known
	Subject   string `json:"subject"` // jobs.graph.<name>
	Seq       uint64 `json:"seq"`
	Nodes     int    `json:"nodes"`
	Duplicate bool   `json:"duplicate,omitempty"` // the identity key was seen within the duplicate window: nothing was enqueued
}

// EnqueueGraph publishes a job graph; see Client.EnqueueGraph.
func EnqueueGraph(ctx context.Context, js jetstream.JetStream, g Graph, lim GraphLimits) (EnqueuedGraph, error) {
	c, err := NewClient(ctx, js)
	if err != nil {
		return EnqueuedGraph{}, err
	}
	return c.EnqueueGraph(ctx, g, lim)
}

// EnqueueGraph checks g against lim (with the JOBS max_age) and publishes
// it on jobs.graph.<name>, with its identity_key as Nats-Msg-Id. A graph
// that fails a check is refused and nothing is published. The dispatcher
// checks it again against its own services and max_nodes.
func (c *Client) EnqueueGraph(ctx context.Context, g Graph, lim GraphLimits) (EnqueuedGraph, error) {
	if lim.MaxAge == 0 {
		lim.MaxAge = c.maxAge
	}
	data, err := json.Marshal(GraphBody{Graph: g})
	if err != nil {
		return EnqueuedGraph{}, fmt.Errorf("enqueue graph: %w", err)
	}
	if _, err := ParseGraph(data, lim); err != nil {
		return EnqueuedGraph{}, fmt.Errorf("enqueue graph: %w", err)
	}
	subject := g.Subject()
	if err := events.CheckSubject(subject); err != nil {
		return EnqueuedGraph{}, fmt.Errorf("enqueue graph: %w", err)
	}
	ev := events.New(ctx, c.Source, GraphType, data)
	msg := ev.Msg(subject)
	if g.IdentityKey != "" {
		msg.Header.Set(events.HeaderMsgID, g.IdentityKey)
	}
	ack, err := stream.Publish(ctx, c.js, msg)
	if err != nil {
		return EnqueuedGraph{}, fmt.Errorf("enqueue graph on %s: %w", subject, err)
	}
	out := EnqueuedGraph{ID: ev.ID, Subject: subject, Seq: ack.Sequence, Nodes: len(g.Nodes)}
	if ack.Duplicate {
		out.ID, out.Duplicate = c.firstID(ctx, ack.Sequence), true
	}
	return out, nil
}
