package natsauth

import (
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// may reports whether subjects allow publishing (or subscribing) to s, as
// the server matches them.
func may(subjects []string, s string) bool {
	return slices.ContainsFunc(subjects, func(allow string) bool { return server.SubjectMatchesFilter(s, allow) })
}

// The promises of the package comment, subject by subject.
func TestEachUserMayDoItsWorkAndNothingElse(t *testing.T) {
	type check struct {
		subject string
		users   []string // who may publish it; everyone else may not
	}
	checks := []check{
		{"github.issues.opened", []string{Ingester, Operator}},
		{"odoo.event.res_partner.partners", []string{Ingester, Operator}},
		{"odoo.cmd.res_partner.unlink", []string{Dispatcher, Operator}}, // the dispatcher: a job graph's Odoo node
		{"jobs.ocr.extract", []string{Dispatcher, Operator}},            // the dispatcher: a job graph's node
		{"schedule.jobs.ocr.extract.x", []string{Dispatcher, Operator}},
		{"$KV.graphs.g", []string{Dispatcher, Operator}},
		{"results.ocr.extract", []string{Dispatcher, Operator}},
		{"dlq.route.github.issues.opened", []string{OdooWriter, Dispatcher, Operator}},
		{"health.nats.ok", []string{Healthmon, Operator}},
		{"$JS.API.STREAM.DELETE.GITHUB", []string{Operator}},
		{"$JS.API.STREAM.PURGE.GITHUB", []string{Operator}},
		{"$JS.API.STREAM.MSG.DELETE.GITHUB", []string{Operator}},
		{"$JS.API.STREAM.UPDATE.GITHUB", Users()},
		{"$JS.API.STREAM.CREATE.SOMETHING_ELSE", []string{Operator}},
		{"$JS.API.STREAM.UPDATE.KV_jobs", []string{Dispatcher, Operator}},
		{"$KV.jobs.abc", []string{Dispatcher, Operator}},
		{"$KV.leases.healthmon.publisher", []string{Ingester, Healthmon, Operator}},
		{"$KV.checkpoints.github-reconciler", []string{Ingester, Operator}},
		{"$KV.health.nats", []string{Healthmon, Operator}},
		{"$JS.API.CONSUMER.MSG.NEXT.GITHUB.route", []string{OdooWriter, Dispatcher, Operator}},
		{"$JS.ACK.ODOO_CMD.odoo-cmd.1.2.3.4.5", []string{OdooWriter, Dispatcher, Operator}},
		{"$JS.API.CONSUMER.DELETE.GITHUB.route-replay", []string{OdooWriter, Dispatcher, Operator}},
		{"$JS.API.CONSUMER.LIST.GITHUB", []string{Healthmon, Operator}},
		{"$JS.API.INFO", Users()},
		{"_INBOX_ingester.abc", []string{Operator}}, // nobody publishes into another's inbox
	}
	for _, c := range checks {
		for _, u := range Users() {
			if got, want := may(MustFor(u).Publish, c.subject), slices.Contains(c.users, u); got != want {
				t.Errorf("%s publishing %s: allowed %v, want %v", u, c.subject, got, want)
			}
		}
	}
	for _, u := range Services() {
		sub := MustFor(u).Subscribe
		for _, other := range Services() {
			if got := may(sub, InboxPrefix(other)+".x"); got != (other == u) {
				t.Errorf("%s subscribing to %s's inbox: %v", u, other, got)
			}
		}
		if may(sub, "github.issues.opened") || may(sub, "_INBOX.x") {
			t.Errorf("%s may subscribe to events or the default inbox", u)
		}
	}
}

func TestPermissionsAreValidSubjectsAndUnique(t *testing.T) {
	for _, u := range Users() {
		p, ok := For(u)
		if !ok {
			t.Fatalf("no permissions for %s", u)
		}
		for _, s := range append(slices.Clone(p.Publish), p.Subscribe...) {
			if !server.IsValidSubject(s) {
				t.Errorf("%s: %q is not a subject", u, s)
			}
		}
		if len(dedup(p.Publish)) != len(p.Publish) {
			t.Errorf("%s: a publish subject twice", u)
		}
	}
	if _, ok := For("mallory"); ok {
		t.Error("an unknown user has permissions")
	}
}

func TestConfNamesEveryUserByItsVariable(t *testing.T) {
	conf := Conf()
	for _, u := range Users() {
		if !strings.Contains(conf, "nkey: $"+NkeyVar(u)+"\n") {
			t.Errorf("Conf has no user %s", u)
		}
	}
}
