package route

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"gopkg.in/yaml.v3"
)

const sample = `
- name: github-issues-to-tasks
  from: {stream: GITHUB, subjects: ["github.issues.*"]}
  odoo:
    model: project.task
    op: upsert
    key: {field: x_github_issue_id, value: .issue.id}
    values: {name: .issue.title, description: .issue.body}
- name: expense-ocr
  from: {stream: ODOO, subjects: ["odoo.event.hr_expense.created"]}
  dispatch:
    service: ocr
    path: /extract
    body: '{attachment_id: .attachment_id, expense_id: ._id}'
`

func TestDesignExampleRoutesAreValid(t *testing.T) {
	var specs []Spec
	if err := yaml.Unmarshal([]byte(sample), &specs); err != nil {
		t.Fatal(err)
	}
	if ps := ValidateAll(specs, "routes"); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if specs[0].Target() != "odoo" || specs[1].Target() != "dispatch" {
		t.Fatal("targets")
	}
	o := specs[0].ConsumerOptions()
	if o.Name != "github-issues-to-tasks" || o.Stream != "GITHUB" || o.Subjects[0] != "github.issues.*" || o.DeliverNew {
		t.Fatalf("consumer options = %+v", o)
	}
}

func TestValidateReportsEveryProblemWithPaths(t *testing.T) {
	specs := []Spec{
		{Name: "bad name", From: From{Stream: "NOPE"}, Odoo: &OdooTarget{Model: "Project Task", Op: "merge"}},
		{Name: "a", From: From{Stream: "GITHUB", Subjects: []string{"odoo.event.>"}, Start: "yesterday"}},
		{Name: "a", From: From{Stream: "ODOO"}, Filter: ".x ==", Odoo: &OdooTarget{Model: "res.partner", Op: "upsert", Values: map[string]string{"name": ".a | "}}},
		{Name: "odoo-cmd", From: From{Stream: "ODOO_CMD"}, Dispatch: &DispatchTarget{Path: "x", Method: "TRACE", Body: "{"}},
	}
	ps := ValidateAll(specs, "routes")
	want := []string{
		"routes[0].name", "routes[0].from.stream", "routes[0].odoo.model", "routes[0].odoo.op",
		"routes[1].from.subjects[0]", "routes[1].from.start", "routes[1]",
		"routes[2].name", "routes[2].filter", "routes[2].odoo.key", "routes[2].odoo.values.name",
		"routes[3].name", "routes[3].dispatch.service", "routes[3].dispatch.path", "routes[3].dispatch.method", "routes[3].dispatch.body",
	}
	got := map[string]bool{}
	for _, p := range ps {
		got[p.Path] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no problem reported at %s; got %v", w, ps)
		}
	}
}

func TestExprEvaluatesWithVariables(t *testing.T) {
	e := MustCompile(`{t: .issue.title, id: .issue.id, s: $subject, ev: $event.id, h: $headers["GitHub-Event"]}`)
	body, err := DecodeBody("application/json", []byte(`{"issue":{"title":"Bug","id":9007199254740993}}`))
	if err != nil {
		t.Fatal(err)
	}
	ev := events.Event{ID: "e1", Header: map[string][]string{"GitHub-Event": {"issues"}}}
	v, err := e.Eval(context.Background(), Input{Body: body, Subject: "github.issues.opened", Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["t"] != "Bug" || m["id"] != 9007199254740993 || m["s"] != "github.issues.opened" || m["ev"] != "e1" || m["h"] != "issues" {
		t.Fatalf("v = %#v", v)
	}
}

func TestExprCannotReadTheEnvironment(t *testing.T) {
	t.Setenv("PULSEHUB_SECRET_PROBE", "s3cret")
	v, err := MustCompile(`$ENV.PULSEHUB_SECRET_PROBE // env.PULSEHUB_SECRET_PROBE // "none"`).Eval(context.Background(), Input{})
	if err != nil || v != "none" {
		t.Fatalf("v = %v, err = %v", v, err)
	}
}

func TestExprErrorsArePermanent(t *testing.T) {
	_, err := MustCompile(`.a.b`).Eval(context.Background(), Input{Body: map[string]any{"a": "str"}})
	if !events.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	_, err = MustCompile(`empty`).Eval(context.Background(), Input{})
	if !events.IsPermanent(err) || !strings.Contains(err.Error(), "no value") {
		t.Fatalf("err = %v", err)
	}
	ok, err := MustCompile(`.x == 1`).Truthy(context.Background(), Input{Body: map[string]any{"x": 1}})
	if err != nil || !ok {
		t.Fatalf("truthy = %v %v", ok, err)
	}
}

func TestDecodeBody(t *testing.T) {
	form := "payload=" + url.QueryEscape(`{"action":"opened"}`)
	v, err := DecodeBody("application/x-www-form-urlencoded", []byte(form))
	if err != nil || v.(map[string]any)["action"] != "opened" {
		t.Fatalf("form: %v %v", v, err)
	}
	if v, err := DecodeBody("", nil); v != nil || err != nil {
		t.Fatalf("empty: %v %v", v, err)
	}
	if _, err := DecodeBody("application/json", []byte("{nope")); !events.IsPermanent(err) {
		t.Fatalf("bad json: %v", err)
	}
	v, _ = DecodeBody("application/json", []byte(`{"f":1.5,"n":[1,2]}`))
	if m := v.(map[string]any); m["f"] != 1.5 || m["n"].([]any)[1] != 2 {
		t.Fatalf("numbers: %#v", v)
	}
}

func TestProblemsCarryLinesThroughTheLoader(t *testing.T) {
	type file struct {
		Routes []Spec `yaml:"routes"`
	}
	var f file
	err := config.LoadBytes([]byte("routes:\n  - name: x\n    from: {stream: GITHUB}\n    odoo: {model: res.partner, op: nope}\n"), &f, config.Options{Strict: true, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	ps := ValidateAll(f.Routes, "routes")
	if len(ps) != 1 || ps[0].Path != "routes[0].odoo.op" {
		t.Fatalf("ps = %v", ps)
	}
	var target config.Problems
	if errors.As(ps.Err(), &target) && len(target) != 1 {
		t.Fatal("Err lost problems")
	}
}
