package playground_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/deploy/playground"
	"github.com/insightpulse/pulsehub/deploy/playground/playgroundtest"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
)

const token = "partners-token-0123456789abcdef"

// file loads a hub.yaml the way the command does, with the source's
// token and the Odoo password from the environment.
func file(t *testing.T, odooURL, extra string) *playground.File {
	t.Helper()
	yml := `
odoo:
  default: {url: "` + odooURL + `", database: hubtest, login: admin}
ingester:
  odoo_sources:
    partners: {model: res.partner, instance: default` + extra + `}
`
	env := map[string]string{"PULSEHUB_ODOO_DEFAULT_PASSWORD": "admin", "PULSEHUB_INGESTER_ODOO_SOURCES_PARTNERS_TOKEN": token}
	var f playground.File
	if err := config.LoadBytes([]byte(yml), &f, config.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestRuleForSendsWriteDateAndTriggersOnTheOtherFields(t *testing.T) {
	for _, tc := range []struct {
		name         string
		extra        string
		fields, trig []string
	}{
		{"default fields", "", playground.DefaultFields, []string{"name", "email", "phone"}},
		{"the poll's fields", ", poll: {fields: [name, write_date, vat]}", []string{"name", "write_date", "vat"}, []string{"name", "vat"}},
		{"write_date added", ", poll: {fields: [name]}", []string{"name", "write_date"}, []string{"name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, inst, err := playground.RuleFor(file(t, "http://odoo:8069", tc.extra), "partners", "http://ingester:8080/")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Fields, tc.fields) || !slices.Equal(r.Triggers, tc.trig) {
				t.Fatalf("fields %v triggers %v", r.Fields, r.Triggers)
			}
			if r.URL != "http://ingester:8080/odoo/partners/"+token || r.Model != "res.partner" || inst.URL != "http://odoo:8069" {
				t.Fatalf("rule %+v instance %s", r, inst.URL)
			}
		})
	}
}

func TestRuleForRefusesWhatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		name, extra, source, url, want string // extra: the source field to spoil
	}{
		{"unknown source", "", "expenses", "http://ingester:8080", "ingester.odoo_sources.expenses: no such source"},
		{"unknown instance", "instance", "partners", "http://ingester:8080", `instance "other"`},
		{"no model", "model", "partners", "http://ingester:8080", "model is required"},
		{"bad ingester URL", "", "partners", "ingester:8080", "want http(s)://host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := file(t, "http://odoo:8069", "")
			src := f.Ingester.OdooSources["partners"]
			switch tc.extra {
			case "instance":
				src.Instance = "other"
			case "model":
				src.Model = ""
			}
			f.Ingester.OdooSources["partners"] = src
			_, _, err := playground.RuleFor(f, tc.source, tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	f := file(t, "http://odoo:8069", "")
	src := f.Ingester.OdooSources["partners"]
	src.Token = config.Secret{}
	f.Ingester.OdooSources["partners"] = src
	if _, _, err := playground.RuleFor(f, "partners", "http://ingester:8080"); err == nil || !strings.Contains(err.Error(), "PULSEHUB_INGESTER_ODOO_SOURCES_PARTNERS_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
}

func TestInstallCreatesTheRuleOnceAndUpdatesItInPlace(t *testing.T) {
	o := playgroundtest.New(t, true, "name", "email", "phone", "write_date", "vat")
	ctx := context.Background()
	r, _, err := playground.RuleFor(file(t, o.URL, ""), "partners", "http://ingester:8080")
	if err != nil {
		t.Fatal(err)
	}
	first, err := playground.Install(ctx, o.Client, r)
	if err != nil || !first.Created {
		t.Fatalf("first install: %+v %v", first, err)
	}
	r.URL = "http://ingester:8080/odoo/partners/rotated-token-0123456789"
	r.Fields, r.Triggers = []string{"name", "write_date"}, []string{"name"}
	again, err := playground.Install(ctx, o.Client, r)
	if err != nil || again.Created || again != (playground.Installed{Automation: first.Automation, Action: first.Action}) {
		t.Fatalf("second install: %+v %v (first %+v)", again, err, first)
	}
	rules := o.Records(t, "base.automation", "name", "trigger", "trigger_field_ids", "model_id")
	actions := o.Records(t, "ir.actions.server", "state", "webhook_url", "webhook_field_ids", "base_automation_id", "usage")
	if len(rules) != 1 || len(actions) != 1 {
		t.Fatalf("%d rules and %d actions after two installs, want one each", len(rules), len(actions))
	}
	if rules[0].String("trigger") != "on_create_or_write" || len(rules[0]["trigger_field_ids"].([]any)) != 1 {
		t.Fatalf("rule %v", rules[0])
	}
	a := actions[0]
	if a.String("state") != "webhook" || a.String("usage") != "base_automation" || a.Int("base_automation_id") != first.Automation ||
		a.String("webhook_url") != r.URL {
		t.Fatalf("action %v", a)
	}
	sent := names(t, o, a["webhook_field_ids"].([]any))
	if !slices.Equal(sent, []string{"name", "write_date"}) {
		t.Fatalf("the action sends %v", sent)
	}
}

func names(t *testing.T, o *playgroundtest.Odoo, ids []any) []string {
	t.Helper()
	var out []string
	for _, f := range o.Records(t, "ir.model.fields", "name") {
		if slices.Contains(ids, any(f.ID())) {
			out = append(out, f.String("name"))
		}
	}
	slices.Sort(out)
	return out
}

func TestInstallSaysWhatOdooLacks(t *testing.T) {
	for _, tc := range []struct {
		name       string
		automation bool
		fields     []string
		model      string
		want       string
	}{
		{"base_automation not installed", false, []string{"name", "write_date"}, "res.partner", "module base_automation is not installed"},
		{"unknown model", true, []string{"name", "write_date"}, "hr.expense", "model hr.expense: not in this Odoo"},
		{"missing fields", true, []string{"name"}, "res.partner", "has no field email, phone, write_date"},
		{"a trigger that is not sent", true, playground.DefaultFields, "res.partner", "has no field vat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := playgroundtest.New(t, tc.automation, tc.fields...)
			r := playground.Rule{Name: "Pulse Hub: x", Model: tc.model, URL: "http://ingester:8080/odoo/x/y",
				Fields: playground.DefaultFields, Triggers: []string{"name", "vat"}}
			_, err := playground.Install(context.Background(), o.Client, r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestInstallFailsTransientlyWhileOdooIsDown(t *testing.T) {
	o := playgroundtest.New(t, true, "name", "write_date")
	if err := o.SetDown(true); err != nil {
		t.Fatal(err)
	}
	r := playground.Rule{Name: "Pulse Hub: x", Model: "res.partner", URL: "http://i/odoo/x/y", Fields: []string{"name", "write_date"}}
	_, err := playground.Install(context.Background(), o.Client, r)
	var f *odoo.Fault
	if !errors.As(err, &f) || !f.Transient() {
		t.Fatalf("err = %v, want a transient *odoo.Fault", err)
	}
}

func TestWaitReadyWaitsForOdooToComeUp(t *testing.T) {
	o := playgroundtest.New(t, true)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if err := o.SetDown(true); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := playground.WaitReady(short, o.Client, 10*time.Millisecond, log); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("down: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- playground.WaitReady(ctx, o.Client, 10*time.Millisecond, log) }()
	if err := o.SetDown(false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("up again: %v", err)
	}
}

func TestWaitReadyWaitsForBaseAutomation(t *testing.T) {
	o := playgroundtest.New(t, false)
	// Long enough for one answer even on a loaded machine: the error names it.
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := playground.WaitReady(short, o.Client, 10*time.Millisecond, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "base_automation is not installed") {
		t.Fatalf("err = %v", err)
	}
}
