package apply

import (
	"context"
	"testing"

	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
	"github.com/prometheus/client_golang/prometheus"
)

// fixture is a fake Odoo and an Applier writing to it.
type fixture struct {
	fake    *odootest.Server
	applier *Applier
	monitor *Monitor
}

func setup(t *testing.T, transport string) *fixture {
	t.Helper()
	fake := odootest.New(t)
	c, err := odoo.New(fake.Config(transport))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMonitor(prometheus.NewRegistry(), []string{"default"})
	return &fixture{fake: fake, applier: New(map[string]*odoo.Client{"default": c}, m, nil), monitor: m}
}

func (f *fixture) apply(t *testing.T, plans ...*plan.Plan) []error {
	t.Helper()
	return f.applier.Apply(context.Background(), plans)
}

// applied fails the test unless every plan was applied.
func (f *fixture) applied(t *testing.T, plans ...*plan.Plan) {
	t.Helper()
	for i, err := range f.apply(t, plans...) {
		if err != nil {
			t.Fatalf("plan %d: %v", i, err)
		}
	}
}

func (f *fixture) insert(t *testing.T, model string, vals map[string]any) int64 {
	t.Helper()
	id, err := f.fake.Insert(model, vals)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// byField indexes a model's records by one field's value.
func (f *fixture) byField(model, field string) map[any]map[string]any {
	out := map[any]map[string]any{}
	for _, r := range f.fake.Records(model) {
		out[r[field]] = r
	}
	return out
}

func task(op string, seq uint64) *plan.Plan {
	return &plan.Plan{Route: "r", Instance: "default", Model: "project.task", Op: op, Seq: seq, Values: map[string]any{}}
}

func upsertTask(issue int, name string, seq uint64) *plan.Plan {
	p := task("upsert", seq)
	p.Key = &plan.Key{Field: "x_github_issue_id", Value: issue}
	p.Values["name"] = name
	return p
}

func createTask(event, name string, seq uint64) *plan.Plan {
	p := task("create", seq)
	p.ExternalID = plan.ExternalID("r", event)
	p.Values["name"] = name
	return p
}

var transports = []string{odoo.TransportXMLRPC, odoo.TransportJSON2}
