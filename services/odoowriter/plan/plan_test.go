package plan

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/route"
	"gopkg.in/yaml.v3"
)

func spec(t *testing.T, src string) route.Spec {
	t.Helper()
	var s route.Spec
	if err := yaml.Unmarshal([]byte(src), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompileFailsWithTheRouteNameAndTheProblem(t *testing.T) {
	cases := []struct{ name, route, want string }{
		{"bad jq in values", `{name: r1, odoo: {model: project.task, op: create, values: {name: ".issue.title |"}}}`, "odoo.values.name"},
		{"bad jq in key", `{name: r2, odoo: {model: project.task, op: upsert, key: {field: x, value: ".a["}, values: {name: .a}}}`, "odoo.key.value"},
		{"bad jq in filter", `{name: r3, filter: ".x ==", odoo: {model: project.task, op: create, values: {name: .a}}}`, "jq"},
		{"unknown op", `{name: r4, odoo: {model: project.task, op: merge, values: {name: .a}}}`, `"merge": want create, write, upsert or unlink`},
		{"upsert without key", `{name: r5, odoo: {model: project.task, op: upsert, values: {name: .a}}}`, "op upsert needs key"},
		{"write without id", `{name: r6, odoo: {model: project.task, op: write, values: {name: .a}}}`, "op write needs id"},
		{"create without values", `{name: r7, odoo: {model: project.task, op: create}}`, "op create needs values"},
		{"id in values", `{name: r8, odoo: {model: project.task, op: create, values: {id: .a, name: .b}}}`, "id is the record's own id"},
		{"field given twice", `{name: r9, odoo: {model: project.task, op: create, values: {partner_id: .a}, lookups: {partner_id: {model: res.partner, field: email, value: .e}}}}`, "given by values too"},
		{"bad missing", `{name: r10, odoo: {model: project.task, op: create, values: {name: .a}, lookups: {partner_id: {model: res.partner, field: email, value: .e, missing: create}}}}`, `"create": want fail or empty`},
		{"no target", `{name: r11, dispatch: {service: ocr}}`, "no odoo: target"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := spec(t, c.route)
			_, err := Compile(s)
			if err == nil || !strings.Contains(err.Error(), "route "+s.Name+":") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want the route name and %q", err, c.want)
			}
		})
	}
}

func input(t *testing.T, body string) route.Input {
	t.Helper()
	v, err := route.DecodeBody("application/json", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return route.Input{Body: v, Subject: "github.issues.opened", Event: events.Event{ID: "ev-1"}}
}

func TestPlanEvaluatesTheRoute(t *testing.T) {
	issue := `{"issue": {"id": 9007199254740993, "title": "Bug", "body": null, "user": {"email": "a@example.com"}}, "ids": [3, "4"]}`
	cases := []struct {
		name, route string
		want        Plan
	}{
		{"upsert", `{name: gh, odoo: {model: project.task, op: upsert, key: {field: x_github_issue_id, value: .issue.id},
			values: {name: .issue.title, description: .issue.body}, context: {lang: en_US}}}`,
			Plan{Route: "gh", Instance: "default", Model: "project.task", Op: "upsert", Seq: 7,
				Key: &Key{Field: "x_github_issue_id", Value: 9007199254740993}, Values: map[string]any{"name": "Bug", "description": nil},
				Context: map[string]any{"lang": "en_US"}}},
		{"create", `{name: gh-create, odoo: {instance: main, model: project.task, op: create, values: {name: .issue.title},
			lookups: {partner_id: {model: res.partner, field: email, value: .issue.user.email, missing: empty}}}}`,
			Plan{Route: "gh-create", Instance: "main", Model: "project.task", Op: "create", Seq: 7, ExternalID: "__pulsehub__.gh_create_ev_1",
				Values:  map[string]any{"name": "Bug"},
				Lookups: map[string]LookupValue{"partner_id": {Model: "res.partner", Field: "email", Value: "a@example.com", Missing: "empty"}}}},
		{"write", `{name: w, odoo: {model: project.task, op: write, id: .ids, values: {name: .issue.title}}}`,
			Plan{Route: "w", Instance: "default", Model: "project.task", Op: "write", Seq: 7, IDs: []int64{3, 4}, Values: map[string]any{"name": "Bug"}}},
		{"unlink", `{name: u, odoo: {model: project.task, op: unlink, id: ".ids[0]"}}`,
			Plan{Route: "u", Instance: "default", Model: "project.task", Op: "unlink", Seq: 7, IDs: []int64{3}, Values: map[string]any{}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Compile(spec(t, c.route))
			if err != nil {
				t.Fatal(err)
			}
			p, err := m.Plan(context.Background(), input(t, issue), "ev-1", 7)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*p, c.want) {
				t.Fatalf("plan\n%#v\nwant\n%#v", *p, c.want)
			}
		})
	}
}

func TestPlanErrorsArePermanent(t *testing.T) {
	cases := []struct{ name, route, body, want string }{
		{"null key", `{name: r, odoo: {model: m.x, op: upsert, key: {field: k, value: .k}, values: {a: .a}}}`, `{}`, "key.value .k gives null"},
		{"object key", `{name: r, odoo: {model: m.x, op: upsert, key: {field: k, value: .k}, values: {a: .a}}}`, `{"k": {}}`, "needs a non-empty"},
		{"null id", `{name: r, odoo: {model: m.x, op: write, id: .id, values: {a: .a}}}`, `{}`, "id is null"},
		{"zero id", `{name: r, odoo: {model: m.x, op: unlink, id: .id}}`, `{"id": 0}`, "not a record id"},
		{"text id", `{name: r, odoo: {model: m.x, op: unlink, id: .id}}`, `{"id": "abc"}`, "not a record id"},
		{"empty id list", `{name: r, odoo: {model: m.x, op: unlink, id: .id}}`, `{"id": []}`, "empty list"},
		{"huge number", `{name: r, odoo: {model: m.x, op: create, values: {a: "123456789012345678901234567890"}}}`, `{}`, "too large"},
		{"jq error", `{name: r, odoo: {model: m.x, op: create, values: {a: ".a.b"}}}`, `{"a": "x"}`, "values.a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Compile(spec(t, c.route))
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Plan(context.Background(), input(t, c.body), "e", 1)
			if !events.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want permanent with %q", err, c.want)
			}
		})
	}
}

func TestFilterSkipsEvents(t *testing.T) {
	m, err := Compile(spec(t, `{name: r, filter: '.action == "opened"', odoo: {model: m.x, op: create, values: {a: .a}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]bool{`{"action": "opened"}`: false, `{"action": "closed"}`: true, `{}`: true} {
		if skip, err := m.Skip(context.Background(), input(t, body)); err != nil || skip != want {
			t.Errorf("%s: skip %v, %v", body, skip, err)
		}
	}
}

func TestFromCommandReadsEveryExample(t *testing.T) {
	files, _ := filepath.Glob("testdata/odoo-cmd.*.json")
	if len(files) < 5 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := route.DecodeBody("application/json", body)
		cmd := v.(map[string]any)
		subject := events.OdooCmdSubject(cmd["model"].(string), cmd["op"].(string))
		p, err := FromCommand(subject, "application/json", body, "ev-9", 3, "default")
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if p.Route != CommandRoute || p.Model != cmd["model"] || p.Op != cmd["op"] || p.Seq != 3 || p.Instance != "default" {
			t.Errorf("%s: %+v", f, p)
		}
		switch p.Op {
		case "create":
			if p.ExternalID != "__pulsehub__.odoo_cmd_ev_9" || p.Values["is_company"] != true {
				t.Errorf("%s: %+v", f, p)
			}
		case "upsert":
			if p.Key.Field != "x_github_issue_id" || p.Key.Value != 1347 || p.Context["lang"] != "en_US" {
				t.Errorf("%s: %+v", f, p)
			}
		case "write", "unlink":
			if len(p.IDs) == 0 {
				t.Errorf("%s: no ids", f)
			}
		}
	}
}

func TestFromCommandRefusesBadCommands(t *testing.T) {
	cases := []struct{ name, subject, body, want string }{
		{"not JSON", "odoo.cmd.res_partner.create", `{"op":`, "not a JSON document"},
		{"schema", "odoo.cmd.res_partner.create", `{"op": "create", "model": "res.partner"}`, "values"},
		{"unknown key", "odoo.cmd.res_partner.write", `{"op": "write", "model": "res.partner", "ids": [1], "values": {}}`, "ids"},
		{"model mismatch", "odoo.cmd.res_partner.create", `{"op": "create", "model": "project.task", "values": {"name": "x"}}`, `model "project.task" is not the subject's "res_partner"`},
		{"op mismatch", "odoo.cmd.res_partner.write", `{"op": "create", "model": "res.partner", "values": {"name": "x"}}`, `op "create" is not the subject's "write"`},
		{"bad subject", "odoo.cmd.res_partner", `{"op": "create", "model": "res.partner", "values": {"name": "x"}}`, "invalid subject"},
		{"id in values", "odoo.cmd.res_partner.create", `{"op": "create", "model": "res.partner", "values": {"id": 4, "partner_id/id": "x"}}`, `"id", "partner_id/id"`},
		{"empty key", "odoo.cmd.res_partner.upsert", `{"op": "upsert", "model": "res.partner", "key": {"field": "ref", "value": ""}, "values": {}}`, "non-empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromCommand(c.subject, "application/json", []byte(c.body), "e", 1, "default")
			if !events.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want permanent with %q", err, c.want)
			}
		})
	}
}

func TestExternalIDIsStableAndSafe(t *testing.T) {
	cases := []struct{ route, id, want string }{
		{"github-issues", "0190f3c2-7d1e-7cc4-8e2a-3f1b2c4d5e6f", "__pulsehub__.github_issues_0190f3c2_7d1e_7cc4_8e2a_3f1b2c4d5e6f"},
		{"r", "GITHUB-12", "__pulsehub__.r_GITHUB_12"},
	}
	for _, c := range cases {
		if got := ExternalID(c.route, c.id); got != c.want {
			t.Errorf("ExternalID(%q, %q) = %q, want %q", c.route, c.id, got, c.want)
		}
	}
	a, b := ExternalID("r", "a.b"), ExternalID("r", "a/b")
	if a == b || strings.Count(a, ".") != 1 || !strings.HasPrefix(a, "__pulsehub__.r_a_b_") {
		t.Errorf("lossy ids: %q, %q", a, b)
	}
}

func TestCanon(t *testing.T) {
	cases := []struct {
		v    any
		want string
		ok   bool
	}{
		{"abc", "abc", true}, {"", "", false}, {42, "42", true}, {int64(42), "42", true}, {42.0, "42", true},
		{1.5, "1.5", true}, {true, "true", true}, {false, "", false}, {nil, "", false},
		{[]any{int64(7), "Acme"}, "7", true}, {[]any{1, 2}, "", false}, {map[string]any{}, "", false},
	}
	for _, c := range cases {
		if got, ok := Canon(c.v); got != c.want || ok != c.ok {
			t.Errorf("Canon(%#v) = %q, %v; want %q, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func TestBatchKeyAndConflicts(t *testing.T) {
	a := &Plan{Route: "r", Instance: "default", Model: "m.x", Op: "upsert", Key: &Key{Field: "k", Value: 1}, Context: map[string]any{"lang": "fr_FR", "tz": "UTC"}}
	b := &Plan{Route: "r", Instance: "default", Model: "m.x", Op: "upsert", Key: &Key{Field: "k", Value: 1.0}, Context: map[string]any{"tz": "UTC", "lang": "fr_FR"}}
	if a.BatchKey() != b.BatchKey() || !reflect.DeepEqual(a.Conflicts(), b.Conflicts()) {
		t.Errorf("same batch and record expected: %q %q %v %v", a.BatchKey(), b.BatchKey(), a.Conflicts(), b.Conflicts())
	}
	other := *b
	other.Route = "r2"
	if other.BatchKey() == a.BatchKey() || !reflect.DeepEqual(other.Conflicts(), a.Conflicts()) {
		t.Error("another route: another batch, the same record")
	}
	w := &Plan{Instance: "default", Model: "m.x", Op: "write", IDs: []int64{1, 2}}
	if got := w.Conflicts(); len(got) != 2 {
		t.Errorf("write conflicts %v", got)
	}
}
