package apply

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/insightpulse/pulsehub/services/odoowriter/batch"
	"github.com/insightpulse/pulsehub/services/odoowriter/plan"
)

func TestCreateRecordsTheEventAsExternalIDAndFindsItAgain(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			f := setup(t, tr)
			project := f.insert(t, "project.project", map[string]any{"name": "Website"})
			tag := f.insert(t, "project.tags", map[string]any{"name": "bug"})
			mk := func() []*plan.Plan {
				a := createTask("e-1", "Fix login", 1)
				a.Values["project_id"] = int(project)
				a.Values["x_github_issue_id"] = 101
				a.Values["priority"] = "1"
				a.Values["active"] = true
				a.Values["tag_ids"] = []any{int(tag)}
				b := createTask("e-2", "Add export", 2)
				b.Values["description"] = nil
				b.Values["tag_ids"] = []any{[]any{6, 0, []any{int(tag)}}} // a command: written after the load
				return []*plan.Plan{a, b}
			}
			f.applied(t, mk()...)
			first := f.fake.Records("project.task")
			f.applied(t, mk()...) // the same events again
			f.applied(t, mk()[1]) // and one alone
			if got := f.fake.Records("project.task"); len(got) != 2 || !sameRecords(first, got) {
				t.Fatalf("after replays:\n%v\nfirst pass:\n%v", got, first)
			}
			tasks := f.byField("project.task", "name")
			if r := tasks["Fix login"]; r["project_id"] != project || r["x_github_issue_id"] != int64(101) || r["priority"] != "1" ||
				!reflect.DeepEqual(r["tag_ids"], []int64{tag}) {
				t.Errorf("Fix login = %v", r)
			}
			if r := tasks["Add export"]; !reflect.DeepEqual(r["tag_ids"], []int64{tag}) {
				t.Errorf("Add export = %v", r)
			}
			data := f.byField("ir.model.data", "name")
			if d := data["r_e_1"]; d == nil || d["module"] != plan.ExternalModule || d["model"] != "project.task" {
				t.Errorf("ir.model.data = %v", f.fake.Records("ir.model.data"))
			}
			if n := f.fake.CallsFor("project.task", "load"); n != 5 {
				t.Errorf("%d load calls, want one per apply and set of columns (2+2+1)", n)
			}
		})
	}
}

// sameRecords compares snapshots but for write_date, which a replay
// touches.
func sameRecords(a, b []map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		for k, v := range a[i] {
			if k == "write_date" {
				continue
			}
			if !equalValue(v, b[i][k]) {
				return false
			}
		}
	}
	return true
}

func equalValue(a, b any) bool { return reflect.DeepEqual(a, b) }

func TestCreateLoadErrorIsolatesTheNamedRowAndMarksTheRestAgain(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	good, bad, good2 := createTask("a", "A", 1), createTask("b", "B", 2), createTask("c", "C", 3)
	good.Values["project_id"], bad.Values["project_id"], good2.Values["project_id"] = nil, 999999, false
	errs := f.apply(t, good, bad, good2)
	if !batch.IsAgain(errs[0]) {
		t.Errorf("good row: %v", errs[0])
	}
	if !batch.IsAgain(errs[2]) {
		t.Errorf("second good row: %v", errs[2])
	}
	if !events.IsPermanent(errs[1]) || !strings.Contains(errs[1].Error(), "No matching record found for database id '999999'") {
		t.Errorf("bad row: %v", errs[1])
	}
	if !batch.IsIsolate(errs[1]) {
		t.Errorf("the named row is not marked Isolate: %v", errs[1])
	}
	if errs := f.apply(t, bad); !events.IsPermanent(errs[0]) || !strings.Contains(errs[0].Error(), "999999") {
		t.Errorf("alone: %v", errs[0])
	}
	if n := f.fake.Count("project.task"); n != 0 {
		t.Errorf("%d tasks after a rolled-back load", n)
	}
}

func TestCreateRefusesValuesTheModelCannotTake(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	unknown, pair, text := createTask("a", "A", 1), createTask("b", "B", 2), createTask("c", "C", 3)
	unknown.Values["no_such_field"] = 1
	pair.Values["project_id"] = "Website" // a many2one needs an id
	errs := f.apply(t, unknown, pair, text)
	if !events.IsPermanent(errs[0]) || !strings.Contains(errs[0].Error(), `project.task has no field "no_such_field"`) {
		t.Errorf("unknown field: %v", errs[0])
	}
	if !events.IsPermanent(errs[1]) || !strings.Contains(errs[1].Error(), "many2one") {
		t.Errorf("many2one: %v", errs[1])
	}
	if errs[2] != nil || f.fake.Count("project.task") != 1 {
		t.Errorf("the good plan: %v, %d tasks", errs[2], f.fake.Count("project.task"))
	}
}

func TestUpsertCreatesMissingKeysInOneCallAndWritesExistingOnes(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			f := setup(t, tr)
			f.insert(t, "project.task", map[string]any{"name": "old", "x_github_issue_id": 1})
			f.insert(t, "project.task", map[string]any{"name": "archived", "x_github_issue_id": 2, "active": false})
			f.fake.ResetCounters()
			first := upsertTask(3, "three", 1)
			first.Values["priority"] = "1"
			f.applied(t, upsertTask(1, "one", 4), upsertTask(2, "two", 5), first, upsertTask(3, "three again", 7), upsertTask(4, "four", 6))
			tasks := f.byField("project.task", "x_github_issue_id")
			want := map[int64]string{1: "one", 2: "two", 3: "three again", 4: "four"}
			for k, name := range want {
				if tasks[k]["name"] != name {
					t.Errorf("issue %d: %v", k, tasks[k])
				}
			}
			if tasks[int64(3)]["priority"] != "1" || tasks[int64(2)]["active"] != false {
				t.Errorf("merged values lost: %v / %v", tasks[int64(3)], tasks[int64(2)])
			}
			if n := f.fake.Count("project.task"); n != 4 {
				t.Errorf("%d tasks, want 4 (archived one found, duplicate key created once)", n)
			}
			if s, c, w := f.fake.Calls("search_read"), f.fake.Calls("create"), f.fake.Calls("write"); s != 1 || c != 1 || w != 2 {
				t.Errorf("calls: search_read %d, create %d, write %d", s, c, w)
			}
		})
	}
}

func TestUpsertWritesRecordsGivenTheSameValuesInOneCall(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	for i := 1; i <= 3; i++ {
		f.insert(t, "project.task", map[string]any{"name": "t", "x_github_issue_id": i})
	}
	f.fake.ResetCounters()
	f.applied(t, upsertTask(1, "same", 1), upsertTask(2, "same", 2), upsertTask(3, "same", 3))
	if w := f.fake.Calls("write"); w != 1 {
		t.Errorf("%d writes, want 1", w)
	}
}

func TestUpsertKeyedByManyToOneReadsThePairsOdooAnswers(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	partner := f.insert(t, "res.partner", map[string]any{"name": "Acme"})
	f.insert(t, "project.project", map[string]any{"name": "no customer"}) // partner_id false: matches no key
	f.insert(t, "project.project", map[string]any{"name": "Acme site", "partner_id": partner})
	p := &plan.Plan{Route: "r", Instance: "default", Model: "project.project", Op: "upsert", Seq: 1,
		Key: &plan.Key{Field: "partner_id", Value: int(partner)}, Values: map[string]any{"name": "Acme website"}}
	f.applied(t, p)
	names := f.byField("project.project", "name")
	if names["Acme website"] == nil || names["no customer"] == nil || f.fake.Count("project.project") != 2 {
		t.Fatalf("projects = %v", f.fake.Records("project.project"))
	}
}

func TestUpsertPermanentFaultOfTheCreateIsMarkedIsolate(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	good, bad := upsertTask(1, "one", 1), upsertTask(2, "two", 2)
	bad.Values["project_id"] = 999999
	for i, err := range f.apply(t, good, bad) {
		if !batch.IsIsolate(err) || !events.IsPermanent(err) {
			t.Errorf("plan %d: %v", i, err)
		}
	}
	errs := f.apply(t, bad)
	if batch.IsIsolate(errs[0]) || !events.IsPermanent(errs[0]) || !strings.Contains(errs[0].Error(), "fkey") {
		t.Errorf("alone: %v", errs[0])
	}
}

func TestTransientFaultIsEveryPlansAndUnmarked(t *testing.T) {
	for _, failure := range []odootest.Failure{odootest.SerializationFailure(), odootest.HTTPStatus(503, 0), odootest.DropConnection()} {
		f := setup(t, odoo.TransportXMLRPC)
		f.fake.FailNext(1, failure.For("search_read"))
		for i, err := range f.apply(t, upsertTask(1, "one", 1), upsertTask(2, "two", 2)) {
			if err == nil || batch.IsIsolate(err) || events.IsPermanent(err) {
				t.Errorf("%v: plan %d: %v", failure.Kind, i, err)
			}
		}
		if n := f.fake.Count("project.task"); n != 0 {
			t.Errorf("%d tasks written after the search failed", n)
		}
		if s := f.monitor.Status()[0]; s.State != "down" {
			t.Errorf("status after a transient failure: %+v", s)
		}
	}
}

func TestWriteGroupsPlansWithTheSameValues(t *testing.T) {
	f := setup(t, odoo.TransportJSON2)
	var ids []int64
	for range 4 {
		ids = append(ids, f.insert(t, "project.task", map[string]any{"name": "t"}))
	}
	f.fake.ResetCounters()
	mk := func(id int64, name string, seq uint64) *plan.Plan {
		p := task("write", seq)
		p.IDs, p.Values["name"] = []int64{id}, name
		return p
	}
	f.applied(t, mk(ids[0], "same", 1), mk(ids[1], "same", 2), mk(ids[2], "other", 3))
	if w := f.fake.Calls("write"); w != 2 {
		t.Errorf("%d writes, want 2", w)
	}
	// Two plans of one record: written in stream order, the later wins.
	f.applied(t, mk(ids[3], "later", 9), mk(ids[3], "earlier", 8))
	if r := f.byField("project.task", "id")[ids[3]]; r["name"] != "later" {
		t.Errorf("record = %v", r)
	}
	// A missing record fails its plan permanently, marked for isolation in
	// a group.
	errs := f.apply(t, mk(ids[0], "x", 10), mk(999999, "x", 11))
	for i, err := range errs {
		if !batch.IsIsolate(err) || !odoo.IsMissingRecord(err) {
			t.Errorf("plan %d: %v", i, err)
		}
	}
}

func TestUnlinkTreatsRecordsAlreadyGoneAsDone(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	a := f.insert(t, "project.task", map[string]any{"name": "a"})
	b := f.insert(t, "project.task", map[string]any{"name": "b", "active": false})
	mk := func(seq uint64, ids ...int64) *plan.Plan {
		p := task("unlink", seq)
		p.IDs = ids
		return p
	}
	f.applied(t, mk(1, a), mk(2, 999999, b))
	if n := f.fake.Count("project.task"); n != 0 {
		t.Fatalf("%d tasks left", n)
	}
	f.applied(t, mk(3, a, b)) // delivered again
}

func TestLookupsResolveManyToOnesInOneSearchPerModelAndField(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	alice := f.insert(t, "res.partner", map[string]any{"name": "Alice", "email": "alice@example.com"})
	f.insert(t, "res.partner", map[string]any{"name": "Alice (dup)", "email": "alice@example.com"})
	bob := f.insert(t, "res.partner", map[string]any{"name": "Bob", "email": "bob@example.com"})
	f.insert(t, "res.partner", map[string]any{"name": "No email"})
	f.fake.ResetCounters()
	mk := func(issue int, email any, missing string) *plan.Plan {
		p := upsertTask(issue, "t", uint64(issue))
		p.Lookups = map[string]plan.LookupValue{"partner_id": {Model: "res.partner", Field: "email", Value: email, Missing: missing}}
		return p
	}
	errs := f.apply(t, mk(1, "alice@example.com", ""), mk(2, "bob@example.com", ""), mk(3, "nobody@example.com", ""),
		mk(4, "nobody@example.com", "empty"), mk(5, nil, ""), mk(6, false, ""))
	if !events.IsPermanent(errs[2]) || !strings.Contains(errs[2].Error(), `no res.partner record has email = "nobody@example.com"`) {
		t.Errorf("missing: %v", errs[2])
	}
	for _, i := range []int{0, 1, 3, 4, 5} {
		if errs[i] != nil {
			t.Errorf("plan %d: %v", i, errs[i])
		}
	}
	tasks := f.byField("project.task", "x_github_issue_id")
	if tasks[int64(1)]["partner_id"] != alice || tasks[int64(2)]["partner_id"] != bob || tasks[int64(4)]["partner_id"] != false ||
		tasks[int64(5)]["partner_id"] != false || tasks[int64(3)] != nil {
		t.Errorf("tasks = %v", f.fake.Records("project.task"))
	}
	if n := f.fake.CallsFor("res.partner", "search_read"); n != 1 {
		t.Errorf("%d lookup searches, want 1", n)
	}
}

func TestReauthenticatesWhenOdooDeniesTheSession(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	f.applied(t, upsertTask(1, "one", 1))
	f.fake.FailNext(1, odootest.Fault(3, "Access Denied").For("search_read"))
	f.applied(t, upsertTask(1, "one again", 2))
	if n := f.fake.Calls("authenticate"); n != 2 {
		t.Errorf("%d authentications, want 2", n)
	}
	if r := f.byField("project.task", "x_github_issue_id")[int64(1)]; r["name"] != "one again" {
		t.Errorf("task = %v", r)
	}
}

func TestUnknownInstanceAndModelFailEveryPlanWithoutIsolation(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	p := upsertTask(1, "x", 1)
	p.Instance = "other"
	if errs := f.apply(t, p); !events.IsPermanent(errs[0]) || !strings.Contains(errs[0].Error(), `no Odoo instance "other"`) {
		t.Errorf("instance: %v", errs[0])
	}
	a, b := upsertTask(1, "x", 1), upsertTask(2, "y", 2)
	a.Model, b.Model = "no.such.model", "no.such.model"
	for _, err := range f.apply(t, a, b) {
		if batch.IsIsolate(err) || !odoo.IsUnknownModel(err) {
			t.Errorf("unknown model: %v", err)
		}
	}
}

func TestCancelledCallsDoNotMarkOdooDown(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := f.applier.Apply(ctx, []*plan.Plan{upsertTask(1, "x", 1)})
	if !errors.Is(errs[0], context.Canceled) {
		t.Errorf("err = %v", errs[0])
	}
	if s := f.monitor.Status()[0]; s.State != "unknown" {
		t.Errorf("status = %+v", s)
	}
}

func TestUpsertByAPathSearchesEachKey(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	alice := f.insert(t, "res.partner", map[string]any{"name": "Alice", "email": "alice@example.com"})
	f.insert(t, "project.task", map[string]any{"name": "Alice's", "partner_id": alice})
	mk := func(email, name string, seq uint64) *plan.Plan {
		p := task("upsert", seq)
		p.Key, p.Values["name"] = &plan.Key{Field: "partner_id.email", Value: email}, name
		return p
	}
	f.applied(t, mk("alice@example.com", "Alice's, renamed", 1), mk("bob@example.com", "Bob's", 2))
	names := f.byField("project.task", "name")
	if names["Alice's, renamed"] == nil || names["Bob's"] == nil || f.fake.Count("project.task") != 2 {
		t.Fatalf("tasks = %v", f.fake.Records("project.task"))
	}
	if n := f.fake.CallsFor("project.task", "search"); n != 2 {
		t.Errorf("%d searches, want one per key", n)
	}
}

func TestCreateAsksForTheFieldsAgainWhenAFieldIsNew(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	f.applied(t, createTask("a", "A", 1))
	f.fake.AddModel(odootest.Model{Name: "project.task", Fields: map[string]odootest.Field{"x_new": {Type: odootest.Char}}})
	p := createTask("b", "B", 2)
	p.Values["x_new"] = "installed since"
	if errs := f.apply(t, p); !events.IsPermanent(errs[0]) {
		t.Fatalf("a field unknown to fields_get a moment ago: %v", errs[0])
	}
	for k, e := range f.applier.fields.entries {
		e.at = e.at.Add(-time.Minute)
		f.applier.fields.entries[k] = e
	}
	f.applied(t, p)
	if n := f.fake.CallsFor("project.task", "fields_get"); n != 2 {
		t.Errorf("%d fields_get calls, want 2", n)
	}
}

func TestFailedLookupSearchFailsThePlansThatNeedIt(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	f.fake.FailNext(1, odootest.SerializationFailure().For("search_read"))
	a, b := upsertTask(1, "a", 1), upsertTask(2, "b", 2)
	a.Lookups = map[string]plan.LookupValue{"partner_id": {Model: "res.partner", Field: "email", Value: "x@example.com"}}
	errs := f.apply(t, a, b)
	if errs[0] == nil || events.IsPermanent(errs[0]) || !strings.Contains(errs[0].Error(), "lookup res.partner by email") {
		t.Errorf("plan with the lookup: %v", errs[0])
	}
	if errs[1] != nil || f.fake.Count("project.task") != 1 {
		t.Errorf("plan without: %v, %d tasks", errs[1], f.fake.Count("project.task"))
	}
}

func TestUnlinkFailures(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	id := f.insert(t, "project.task", map[string]any{"name": "a"})
	p := task("unlink", 1)
	p.IDs = []int64{id, 999999}
	f.fake.FailNext(1, odootest.HTTPStatus(503, 0).For("search"))
	if errs := f.apply(t, p); errs[0] == nil || events.IsPermanent(errs[0]) {
		t.Errorf("search failed: %v", errs[0])
	}
	f.fake.FailNext(1, odootest.Fault(4, "You are not allowed to delete 'Task' (project.task) records.").For("unlink"))
	if errs := f.apply(t, p); !odoo.IsAccessError(errs[0]) {
		t.Errorf("unlink refused: %v", errs[0])
	}
	if n := f.fake.Count("project.task"); n != 1 {
		t.Errorf("%d tasks", n)
	}
}

func TestCommandsLoadCannotTakeAreWrittenAfterItAndTheirFaultIsThePlans(t *testing.T) {
	f := setup(t, odoo.TransportXMLRPC)
	p := createTask("a", "A", 1)
	p.Values["tag_ids"] = []any{[]any{9, 1}}
	errs := f.apply(t, p)
	if !events.IsPermanent(errs[0]) || !strings.Contains(errs[0].Error(), "write project.task") {
		t.Fatalf("err = %v", errs[0])
	}
	if n := f.fake.Count("project.task"); n != 1 {
		t.Errorf("%d tasks: the load itself succeeded", n)
	}
}
