package writer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/prometheus/client_golang/prometheus"
)

const opRoutes = `
- name: gh-issues
  from: {stream: GITHUB, subjects: ["github.issues.*"]}
  filter: '.action != "deleted"'
  retry: ` + fastRetry + `
  odoo:
    model: project.task
    op: upsert
    key: {field: x_github_issue_id, value: .issue.id}
    values: {name: .issue.title, description: .issue.body, x_github_url: .issue.html_url}
    lookups:
      partner_id: {model: res.partner, field: email, value: .sender.email, missing: empty}
- name: partner-notes
  from: {stream: ODOO, subjects: ["odoo.event.res_partner.*"]}
  retry: ` + fastRetry + `
  odoo:
    model: project.task
    op: create
    values: {name: '"Follow up " + .name', partner_id: ._id}
    context: {tracking_disable: true}
- name: task-rename
  from: {stream: JOBS, subjects: ["jobs.odoo.rename"]}
  retry: ` + fastRetry + `
  odoo: {model: project.task, op: write, id: .task_id, values: {name: .name}}
- name: task-delete
  from: {stream: JOBS, subjects: ["jobs.odoo.delete"]}
  retry: ` + fastRetry + `
  odoo: {model: project.task, op: unlink, id: .task_ids}
`

func TestEachOpThroughItsRoute(t *testing.T) {
	h := setup(t, opRoutes)
	partner, err := h.fake.Insert("res.partner", map[string]any{"id": int64(18), "name": "Webhook Test Co", "email": "octocat@github.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.start(t)

	h.publish(t, "github.issues.opened", "d-1", issue(t, 444500041, "Spelling error", map[string]any{"sender": map[string]any{"email": "octocat@github.com"}}))
	h.publish(t, "github.issues.edited", "d-2", fixture(t, "github/issues.edited.payload.json"))
	h.publish(t, "github.issues.deleted", "d-3", issue(t, 444500041, "deleted", map[string]any{"action": "deleted"}))
	h.publish(t, events.OdooEventSubject("res.partner", "hub"), "w-1", fixture(t, "odoo-partner-write.json"))
	h.settled(t, events.StreamGitHub, "gh-issues")
	h.settled(t, events.StreamOdoo, "partner-notes")

	tasks := byField(h.fake.Records("project.task"), "x_github_issue_id")
	gh := tasks[int64(444500041)]
	if gh == nil || gh["name"] != "Spelling error in the README file" || gh["x_github_url"] != "https://github.com/Codertocat/Hello-World/issues/1" {
		t.Fatalf("task from GitHub = %v (all %v)", gh, h.fake.Records("project.task"))
	}
	note := tasks[int64(0)] // an empty integer reads 0
	if note == nil || note["name"] != "Follow up Webhook Test Co" || note["partner_id"] != partner {
		t.Fatalf("task from the Odoo event = %v", note)
	}
	if n := h.fake.Count("project.task"); n != 2 {
		t.Fatalf("%d tasks: the filter, the upsert or the create let a duplicate through", n)
	}

	rename := fmt.Sprintf(`{"task_id": %d, "name": "Renamed"}`, gh["id"])
	h.publish(t, "jobs.odoo.rename", "j-1", []byte(rename))
	h.settled(t, events.StreamJobs, "task-rename")
	if r := byField(h.fake.Records("project.task"), "id")[gh["id"]]; r["name"] != "Renamed" {
		t.Fatalf("after write: %v", r)
	}
	del := fmt.Sprintf(`{"task_ids": [%d, %d, 999999]}`, gh["id"], note["id"])
	h.publish(t, "jobs.odoo.delete", "j-2", []byte(del))
	h.publish(t, "jobs.odoo.delete", "j-3", []byte(del)) // delivered again: nothing left to delete
	h.settled(t, events.StreamJobs, "task-delete")
	if n := h.fake.Count("project.task"); n != 0 {
		t.Fatalf("%d tasks after unlink", n)
	}
	if dl := h.dlq(t); len(dl) != 0 {
		t.Fatalf("dead letters: %v", dl[0].Header)
	}
}

func TestOdooCmdRoute(t *testing.T) {
	h := setup(t, "")
	h.start(t)
	good := `{"op": "upsert", "model": "project.task", "key": {"field": "x_github_issue_id", "value": 1347},
		"values": {"name": "From a command"}, "context": {"lang": "en_US"}}`
	create := `{"op": "create", "model": "res.partner", "values": {"name": "Cmd Co", "is_company": true}}`
	h.publish(t, "odoo.cmd.project_task.upsert", "c-1", []byte(good))
	h.publish(t, "odoo.cmd.res_partner.create", "c-2", []byte(create))
	h.publish(t, "odoo.cmd.res_partner.create", "c-3", []byte(`{"op": "create", "model": "res.partner", "vals": {"name": "x"}}`))
	h.publish(t, "odoo.cmd.res_partner.create", "c-4", []byte(`{"op": "create", "model": "project.task", "values": {"name": "x"}}`))
	h.settled(t, events.StreamOdooCmd, "odoo-cmd")

	if r := byField(h.fake.Records("project.task"), "x_github_issue_id")[int64(1347)]; r == nil || r["name"] != "From a command" {
		t.Fatalf("tasks = %v", h.fake.Records("project.task"))
	}
	if r := byField(h.fake.Records("res.partner"), "name")["Cmd Co"]; r == nil || r["is_company"] != true {
		t.Fatalf("partners = %v", h.fake.Records("res.partner"))
	}
	dl := h.dlq(t)
	if len(dl) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dl))
	}
	reasons := map[string]string{}
	for _, m := range dl {
		if m.Header.Get(events.HeaderRoute) != "odoo-cmd" || m.Header.Get(events.HeaderDLQKind) != "permanent" ||
			m.Header.Get(events.HeaderOriginStream) != events.StreamOdooCmd || !strings.HasPrefix(m.Subject, "dlq.odoo-cmd.odoo.cmd.res_partner.create") {
			t.Errorf("dead letter %s %v", m.Subject, m.Header)
		}
		reasons[m.Header.Get(events.HeaderID)] = m.Header.Get(events.HeaderDLQReason)
	}
	if r := reasons["c-3"]; !strings.Contains(r, "vals") || !strings.Contains(r, "odoo-cmd") {
		t.Errorf("invalid body reason: %q", r)
	}
	if r := reasons["c-4"]; !strings.Contains(r, `the body's model "project.task" is not the subject's "res_partner"`) {
		t.Errorf("mismatch reason: %q", r)
	}
}

func TestCompileErrorsStopStartWithTheRouteName(t *testing.T) {
	cases := []struct{ name, routes, want string }{
		{"bad jq", `[{name: bad-jq, from: {stream: GITHUB}, odoo: {model: project.task, op: create, values: {name: ".issue |"}}}]`, "route bad-jq: odoo.values.name"},
		{"unknown op", `[{name: bad-op, from: {stream: GITHUB}, odoo: {model: project.task, op: replace, values: {name: .a}}}]`, "route bad-op: odoo.op"},
		{"missing key", `[{name: no-key, from: {stream: GITHUB}, odoo: {model: project.task, op: upsert, values: {name: .a}}}]`, "route no-key: odoo.key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := setup(t, c.routes)
			err := Run(context.Background(), service.Deps{Conn: h.nc, JS: h.js, Registry: prometheus.NewRegistry()}, h.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run = %v, want %q", err, c.want)
			}
		})
	}
}

func TestTransientFaultIsRetriedAndPermanentOneDeadLettered(t *testing.T) {
	h := setup(t, opRoutes)
	h.fake.FailNext(2, odootest.SerializationFailure().For("search_read"))
	h.fake.FailNext(1, odootest.HTTPStatus(429, time.Second).For("create"))
	h.start(t)
	h.publish(t, "github.issues.opened", "d-1", issue(t, 1, "one", nil))
	h.settled(t, events.StreamGitHub, "gh-issues")
	if n := h.fake.Count("project.task"); n != 1 || len(h.dlq(t)) != 0 {
		t.Fatalf("%d tasks, %d dead letters", n, len(h.dlq(t)))
	}
	h.fake.FailNext(1, odootest.Fault(2, "You cannot create a task in a folded stage.").For("create"))
	h.publish(t, "github.issues.opened", "d-2", issue(t, 2, "two", nil))
	h.settled(t, events.StreamGitHub, "gh-issues")
	dl := h.dlq(t)
	if len(dl) != 1 || !strings.Contains(dl[0].Header.Get(events.HeaderDLQReason), "You cannot create a task in a folded stage.") ||
		dl[0].Header.Get(events.HeaderDLQAttempts) != "1" {
		t.Fatalf("dead letters: %v", dl)
	}
}

func TestReauthenticatesWhenOdooInvalidatesTheSession(t *testing.T) {
	h := setup(t, opRoutes)
	h.start(t)
	h.publish(t, "github.issues.opened", "d-1", issue(t, 1, "one", nil))
	h.settled(t, events.StreamGitHub, "gh-issues")
	h.fake.FailNext(1, odootest.Fault(3, "Access Denied"))
	h.publish(t, "github.issues.opened", "d-2", issue(t, 2, "two", nil))
	h.settled(t, events.StreamGitHub, "gh-issues")
	if n, a := h.fake.Count("project.task"), h.fake.Calls("authenticate"); n != 2 || a != 2 {
		t.Fatalf("%d tasks, %d authentications", n, a)
	}
	if dl := h.dlq(t); len(dl) != 0 {
		t.Fatalf("dead letter: %v", dl[0].Header)
	}
}

func byField(recs []map[string]any, field string) map[any]map[string]any {
	out := map[any]map[string]any{}
	for _, r := range recs {
		out[r[field]] = r
	}
	return out
}
