package plan

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/route"
)

// Mapper is a route's odoo: target compiled: it turns each event of the
// route into a Plan.
type Mapper struct {
	route    string
	target   route.OdooTarget
	filter   *route.Expr
	key, id  *route.Expr
	values   []fieldExpr
	lookups  []lookupExpr
	instance string
}

type fieldExpr struct {
	field string
	expr  *route.Expr
}

type lookupExpr struct {
	field string
	spec  route.Lookup
	expr  *route.Expr
}

// Compile checks a route and compiles its filter and its target's
// expressions. An error names the route and every problem (a bad jq
// expression, an unknown op, a missing key); the writer does not start.
func Compile(spec route.Spec) (*Mapper, error) {
	t := spec.Odoo
	if t == nil {
		return nil, fmt.Errorf("route %s: no odoo: target", spec.Name)
	}
	if ps := t.Validate("odoo"); len(ps) > 0 {
		return nil, fmt.Errorf("route %s: %w", spec.Name, ps.Err())
	}
	m := &Mapper{route: spec.Name, target: *t, instance: t.InstanceName()}
	var err error
	compile := func(src string) *route.Expr {
		e, cerr := route.Compile(src)
		if cerr != nil && err == nil {
			err = fmt.Errorf("route %s: %w", spec.Name, cerr)
		}
		return e
	}
	if spec.Filter != "" {
		m.filter = compile(spec.Filter)
	}
	if t.Key != nil {
		m.key = compile(t.Key.Value)
	}
	if t.ID != "" {
		m.id = compile(t.ID)
	}
	for _, f := range slices.Sorted(maps.Keys(t.Values)) {
		m.values = append(m.values, fieldExpr{field: f, expr: compile(t.Values[f])})
	}
	for _, f := range slices.Sorted(maps.Keys(t.Lookups)) {
		m.lookups = append(m.lookups, lookupExpr{field: f, spec: t.Lookups[f], expr: compile(t.Lookups[f].Value)})
	}
	return m, err
}

// Route is the route's name.
func (m *Mapper) Route() string { return m.route }

// Instance is the Odoo instance the route writes to.
func (m *Mapper) Instance() string { return m.instance }

// Skip reports whether the route's filter turns the event away.
func (m *Mapper) Skip(ctx context.Context, in route.Input) (bool, error) {
	if m.filter == nil {
		return false, nil
	}
	ok, err := m.filter.Truthy(ctx, in)
	if err != nil {
		return false, fmt.Errorf("filter: %w", err)
	}
	return !ok, nil
}

// Plan evaluates the route's expressions on one event. eventID names the
// event for the external id of a create. Every error is permanent: the
// same event gives the same result however often it is tried.
func (m *Mapper) Plan(ctx context.Context, in route.Input, eventID string, seq uint64) (*Plan, error) {
	t := &m.target
	p := &Plan{Route: m.route, Instance: m.instance, Model: t.Model, Op: t.Op, Context: t.Context, Seq: seq,
		Values: make(map[string]any, len(m.values))}
	switch t.Op {
	case route.OpCreate:
		p.ExternalID = ExternalID(m.route, eventID)
	case route.OpUpsert:
		v, err := m.eval(ctx, in, "key.value", m.key)
		if err != nil {
			return nil, err
		}
		if _, ok := Canon(v); !ok {
			return nil, events.Permanentf("key.value %s gives %s: an upsert needs a non-empty string, number or true", m.key, show(v))
		}
		p.Key = &Key{Field: t.Key.Field, Value: v}
	case route.OpWrite, route.OpUnlink:
		v, err := m.eval(ctx, in, "id", m.id)
		if err != nil {
			return nil, err
		}
		if p.IDs, err = IDs(v); err != nil {
			return nil, fmt.Errorf("id %s: %w", m.id, err)
		}
	}
	for _, f := range m.values {
		v, err := m.eval(ctx, in, "values."+f.field, f.expr)
		if err != nil {
			return nil, err
		}
		p.Values[f.field] = v
	}
	for _, l := range m.lookups {
		v, err := m.eval(ctx, in, "lookups."+l.field+".value", l.expr)
		if err != nil {
			return nil, err
		}
		if p.Lookups == nil {
			p.Lookups = make(map[string]LookupValue, len(m.lookups))
		}
		p.Lookups[l.field] = LookupValue{Model: l.spec.Model, Field: l.spec.Field, Value: v, Missing: l.spec.Missing}
	}
	return p, nil
}

func (m *Mapper) eval(ctx context.Context, in route.Input, what string, e *route.Expr) (any, error) {
	v, err := e.Eval(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	v, err = normalize(v)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, e, err)
	}
	return v, nil
}
