// Package playgroundtest is a fake Odoo (odoo/odootest) with the models the
// playground writes: modules, models, fields, automation rules and server
// actions, seeded as a fresh Odoo with contacts and base_automation has them.
package playgroundtest

import (
	"context"
	"testing"

	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
)

// Models are the ir.* and base.automation models the playground touches,
// with the fields it reads and writes.
func Models() []odootest.Model {
	m2o := func(rel string) odootest.Field { return odootest.Field{Type: odootest.Many2one, Relation: rel} }
	fields := odootest.Field{Type: odootest.Many2many, Relation: "ir.model.fields"}
	char := odootest.Field{Type: odootest.Char}
	return []odootest.Model{
		{Name: "ir.module.module", Fields: map[string]odootest.Field{"name": char,
			"state": {Type: odootest.Selection, Values: []string{"uninstalled", "installed", "to install"}}}},
		{Name: "ir.model", Fields: map[string]odootest.Field{"model": char, "name": char}},
		{Name: "ir.model.fields", Fields: map[string]odootest.Field{"name": char, "model": char, "model_id": m2o("ir.model")}},
		{Name: "base.automation", Fields: map[string]odootest.Field{"name": {Type: odootest.Char, Required: true},
			"model_id": m2o("ir.model"), "trigger_field_ids": fields, "active": {Type: odootest.Boolean},
			"trigger": {Type: odootest.Selection, Values: []string{"on_create", "on_write", "on_create_or_write", "on_unlink"}}}},
		{Name: "ir.actions.server", Fields: map[string]odootest.Field{"name": char, "model_id": m2o("ir.model"),
			"state":              {Type: odootest.Selection, Values: []string{"code", "object_write", "webhook"}},
			"usage":              {Type: odootest.Selection, Values: []string{"ir_actions_server", "base_automation"}},
			"base_automation_id": m2o("base.automation"), "webhook_url": char, "webhook_field_ids": fields}},
	}
}

// Odoo is a fake Odoo with Models, and a client on it as admin.
type Odoo struct {
	*odootest.Server
	Client *odoo.Client
}

// New starts the fake and seeds it: base_automation installed when
// withAutomation, model res.partner with the given fields.
func New(t *testing.T, withAutomation bool, fields ...string) *Odoo {
	t.Helper()
	s := odootest.New(t, odootest.WithModels(Models()...))
	c, err := odoo.New(s.Config(odoo.TransportXMLRPC))
	if err != nil {
		t.Fatal(err)
	}
	o := &Odoo{Server: s, Client: c}
	state := "uninstalled"
	if withAutomation {
		state = "installed"
	}
	o.Create(t, "ir.module.module", map[string]any{"name": "base_automation", "state": state})
	model := o.Create(t, "ir.model", map[string]any{"model": "res.partner", "name": "Contact"})
	for _, f := range fields {
		o.Create(t, "ir.model.fields", map[string]any{"name": f, "model": "res.partner", "model_id": model})
	}
	return o
}

// Create creates one record or fails the test.
func (o *Odoo) Create(t *testing.T, model string, vals map[string]any) int64 {
	t.Helper()
	id, err := o.Client.CreateOne(context.Background(), model, vals)
	if err != nil {
		t.Fatalf("seed %s: %v", model, err)
	}
	return id
}

// Records reads every record of model or fails the test.
func (o *Odoo) Records(t *testing.T, model string, fields ...string) []odoo.Record {
	t.Helper()
	recs, err := o.Client.SearchRead(context.Background(), model, nil, fields, odoo.SearchOptions{})
	if err != nil {
		t.Fatalf("read %s: %v", model, err)
	}
	return recs
}
