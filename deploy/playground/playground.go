// Package playground sets up the Odoo of the compose playground (profile
// odoo): the example automation rule whose "Send Webhook Notification"
// action posts every change of a source's model to the ingester, with the
// fields the ingester needs (write_date among them) and the source's
// token in the URL. It reads the same hub.yaml and the same PULSEHUB_*
// variables as the ingester, so the token is written in one place (.env).
//
// Install is idempotent: run again, it updates the rule and its action in
// place (a new token, other fields) instead of adding another.
package playground

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
)

// File is what the playground reads of hub.yaml: the Odoo instances and the
// ingester's section (its Odoo sources). It has no Validate: the ingester's
// own secrets (GitHub) are none of the playground's business.
type File struct {
	Odoo     map[string]odoo.Config `yaml:"odoo"`     // the hub's Odoo instances
	Ingester ingester.Config        `yaml:"ingester"` // the Odoo sources, with their tokens
}

// DefaultFields are sent when the source lists no poll fields.
var DefaultFields = []string{"name", "email", "phone", "write_date"}

// Rule is one automation rule and its webhook action.
type Rule struct {
	Name     string   // of the rule and of its action: "Pulse Hub: <source>"
	Model    string   // the source's model, e.g. res.partner
	URL      string   // <ingester>/odoo/<source>/<token>
	Fields   []string // the fields the action sends; write_date always among them
	Triggers []string // a change of one of these fires the rule (all sent fields but write_date)
}

// RuleFor builds the rule of the source named source in f, posting to the
// ingester at ingesterURL (as Odoo reaches it, e.g. http://ingester:8080),
// and returns it with the Odoo instance the source names.
func RuleFor(f *File, source, ingesterURL string) (Rule, odoo.Config, error) {
	src, ok := f.Ingester.OdooSources[source]
	if !ok {
		return Rule{}, odoo.Config{}, fmt.Errorf("ingester.odoo_sources.%s: no such source in the config", source)
	}
	var problems []string
	if !src.Token.IsSet() {
		problems = append(problems, fmt.Sprintf("ingester.odoo_sources.%s.token is not set (PULSEHUB_INGESTER_ODOO_SOURCES_%s_TOKEN)", source, strings.ToUpper(source)))
	}
	if src.Model == "" {
		problems = append(problems, fmt.Sprintf("ingester.odoo_sources.%s.model is required: an automation rule is on one model", source))
	}
	inst, ok := f.Odoo[src.Instance]
	if !ok {
		problems = append(problems, fmt.Sprintf("ingester.odoo_sources.%s.instance %q is not an instance of the odoo: section", source, src.Instance))
	}
	u, err := url.Parse(ingesterURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("ingester URL %q: want http(s)://host:port", ingesterURL))
	}
	if len(problems) > 0 {
		return Rule{}, odoo.Config{}, errors.New(strings.Join(problems, "; "))
	}
	fields := src.Poll.Fields
	if len(fields) == 0 {
		fields = DefaultFields
	}
	if !slices.Contains(fields, "write_date") {
		// With _model and _id, write_date identifies a change: without it
		// the ingester cannot fold a webhook and a poll of the same change.
		fields = append(slices.Clone(fields), "write_date")
	}
	var triggers []string
	for _, f := range fields {
		if f != "write_date" {
			triggers = append(triggers, f)
		}
	}
	return Rule{
		Name:     "Pulse Hub: " + source,
		Model:    src.Model,
		URL:      strings.TrimRight(ingesterURL, "/") + "/odoo/" + url.PathEscape(source) + "/" + url.PathEscape(src.Token.Value()),
		Fields:   fields,
		Triggers: triggers,
	}, inst, nil
}

// Installed says what Install wrote.
type Installed struct {
	Automation int64 // base.automation id
	Action     int64 // ir.actions.server id
	Created    bool  // false when an existing rule was updated
}

// Install creates or updates the rule in Odoo: a base.automation on the
// rule's model (trigger: created or updated, on the trigger fields) with
// one ir.actions.server of type webhook. It needs the base_automation
// module installed (the compose playground starts Odoo with it).
func Install(ctx context.Context, c *odoo.Client, r Rule) (Installed, error) {
	if err := requireModule(ctx, c, "base_automation"); err != nil {
		return Installed{}, err
	}
	modelID, err := modelID(ctx, c, r.Model)
	if err != nil {
		return Installed{}, err
	}
	fieldIDs, err := fieldIDs(ctx, c, r.Model, union(r.Fields, r.Triggers))
	if err != nil {
		return Installed{}, err
	}
	triggerIDs := make([]any, 0, len(r.Triggers))
	for _, t := range r.Triggers {
		triggerIDs = append(triggerIDs, fieldIDs[t])
	}
	sent := make([]any, 0, len(r.Fields))
	for _, f := range r.Fields {
		sent = append(sent, fieldIDs[f])
	}
	rule := map[string]any{"name": r.Name, "model_id": modelID, "trigger": "on_create_or_write",
		"trigger_field_ids": []any{[]any{6, 0, triggerIDs}}, "active": true}
	var in Installed
	in.Automation, in.Created, err = upsert(ctx, c, "base.automation", []any{
		[]any{"name", "=", r.Name}, []any{"model_id", "=", modelID}}, rule)
	if err != nil {
		return in, err
	}
	action := map[string]any{"name": r.Name, "model_id": modelID, "state": "webhook", "usage": "base_automation",
		"base_automation_id": in.Automation, "webhook_url": r.URL, "webhook_field_ids": []any{[]any{6, 0, sent}}}
	in.Action, _, err = upsert(ctx, c, "ir.actions.server", []any{
		[]any{"base_automation_id", "=", in.Automation}, []any{"name", "=", r.Name}}, action)
	return in, err
}

// union is a followed by the elements of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func requireModule(ctx context.Context, c *odoo.Client, name string) error {
	n, err := c.SearchCount(ctx, "ir.module.module", []any{[]any{"name", "=", name}, []any{"state", "=", "installed"}})
	if err != nil {
		return fmt.Errorf("look up module %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("the Odoo module %s is not installed: install it (Apps, or odoo -i %s)", name, name)
	}
	return nil
}

func modelID(ctx context.Context, c *odoo.Client, model string) (int64, error) {
	ids, err := c.Search(ctx, "ir.model", []any{[]any{"model", "=", model}}, odoo.SearchOptions{Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("look up model %s: %w", model, err)
	}
	if len(ids) == 0 {
		return 0, fmt.Errorf("model %s: not in this Odoo (is its module installed?)", model)
	}
	return ids[0], nil
}

// fieldIDs maps each field name to its ir.model.fields id, or names every
// field the model does not have.
func fieldIDs(ctx context.Context, c *odoo.Client, model string, fields []string) (map[string]int64, error) {
	names := make([]any, len(fields))
	for i, f := range fields {
		names[i] = f
	}
	recs, err := c.SearchRead(ctx, "ir.model.fields", []any{[]any{"model", "=", model}, []any{"name", "in", names}},
		[]string{"name"}, odoo.SearchOptions{})
	if err != nil {
		return nil, fmt.Errorf("look up fields of %s: %w", model, err)
	}
	ids := make(map[string]int64, len(recs))
	for _, r := range recs {
		ids[r.String("name")] = r.ID()
	}
	var missing []string
	for _, f := range fields {
		if _, ok := ids[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("model %s has no field %s", model, strings.Join(missing, ", "))
	}
	return ids, nil
}

// upsert writes vals on the one record of model matching domain, or
// creates it.
func upsert(ctx context.Context, c *odoo.Client, model string, domain []any, vals map[string]any) (int64, bool, error) {
	ids, err := c.Search(ctx, model, domain, odoo.SearchOptions{Limit: 1})
	if err != nil {
		return 0, false, fmt.Errorf("look up %s %v: %w", model, vals["name"], err)
	}
	if len(ids) == 1 {
		if err := c.Write(ctx, model, ids, vals); err != nil {
			return 0, false, fmt.Errorf("update %s %d: %w", model, ids[0], err)
		}
		return ids[0], false, nil
	}
	id, err := c.CreateOne(ctx, model, vals)
	if err != nil {
		return 0, false, fmt.Errorf("create %s %v: %w", model, vals["name"], err)
	}
	return id, true, nil
}
