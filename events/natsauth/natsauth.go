// Package natsauth says who may do what on the hub's NATS: one user per
// service (ingester, odoowriter, dispatcher, healthmon), each allowed the
// subjects and JetStream API calls its code uses and nothing else, and an
// operator user for people (`hub status|replay|dlq|jobs`, the NATS CLI, and
// healthmon when it serves the operator console, which acts for them) who
// may do everything. It is the one definition of these permission sets: the
// embedded server of `hub run` is configured from it (services/hub/embedded),
// and the deployment files (deploy/nats/auth.conf, the Helm values) are
// generated from it and checked against it by deploy's tests.
//
// What the sets enforce:
//
//   - only the ingester publishes github.> and odoo.event.> (a stranger with
//     another service's credentials cannot skip the webhook's HMAC);
//   - nobody but the operator and the dispatcher publishes odoo.cmd.> or
//     jobs.> (the writer turns odoo.cmd into Odoo writes and unlinks). The
//     dispatcher publishes there only the nodes of a job graph, each as its
//     graph (itself published on jobs.graph.> by someone allowed to) says;
//     a job's result_subject cannot make it publish there: results go to
//     results.> only;
//   - only the operator deletes or purges streams, deletes messages or
//     touches anything outside the hub's streams and buckets;
//   - each service reads only the key-value buckets it uses, and replies
//     reach it on an inbox prefix of its own (InboxPrefix), so one service
//     cannot read another's pulled messages or API answers.
//
// Every service may create and update the hub's streams (root.Run ensures
// them at every start, with the limits of its config) and the consumers on
// them (route names come from the config, so consumers are granted per
// stream, not per name).
package natsauth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats-server/v2/server"
)

// The users: one per service, named like the services of `hub run --only`,
// and the operator.
const (
	Ingester   = "ingester"
	OdooWriter = "odoowriter"
	Dispatcher = "dispatcher"
	Healthmon  = "healthmon"
	Operator   = "operator"
)

// Services lists the service users, in `hub run` order.
func Services() []string { return []string{Ingester, OdooWriter, Dispatcher, Healthmon} }

// Users lists every user: the services, then the operator.
func Users() []string { return append(Services(), Operator) }

// Permissions are what a user may publish to and subscribe to: allow
// lists, everything else is denied.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// InboxPrefix is the inbox prefix of a service's connections (nats.go's
// CustomInboxPrefix): replies to its requests (JetStream API answers,
// publish acks, pulled messages) arrive under it, and only that service may
// subscribe there. The operator uses the default _INBOX.
func InboxPrefix(user string) string {
	if user == Operator {
		return "_INBOX"
	}
	return "_INBOX_" + user
}

// For returns the permissions of user; ok is false for an unknown user.
func For(user string) (p Permissions, ok bool) {
	switch user {
	case Ingester:
		p = service(user,
			publish("github.>", "odoo.event.>"),
			// the Odoo webhook reads back the stored change it may have
			// stored a second earlier (odoohook's same-second check)
			readMessages(events.StreamOdoo),
			bucket(events.BucketCheckpoints, true),
			bucket(events.BucketLeases, true),
			bucket(events.BucketGitHubRedeliveries, true), // the reconciler's failed deliveries
		)
	case OdooWriter:
		p = service(user,
			publish("dlq.>"),
			consumeAll(),
		)
	case Dispatcher:
		p = service(user,
			publish("results.>", "dlq.>"),
			// job graphs: a node's job or schedule, or its Odoo command
			publish("jobs.>", "schedule.jobs.>", "odoo.cmd.>"),
			consumeAll(),
			bucket(events.BucketJobs, true),
			bucket(events.BucketResults, true),
			bucket(events.BucketGraphs, true),
			// a graph node's parents' results, and a duplicate's first job
			readMessages(events.StreamResults), readMessages(events.StreamOdooCmd), readMessages(events.StreamJobs),
		)
	case Healthmon:
		p = service(user,
			publish("health.>"),
			inspectAll(),
			readMessages(events.StreamDLQ), // each route's latest dead letter, for its trace id (stream.Routes)
			bucket(events.BucketHealth, true),
			bucket(events.BucketLeases, true),
			bucket(events.BucketCheckpoints, false), // the reconciler's checkpoint
		)
		// consumers that reached their delivery limit (healthmon's routes probe)
		p.Subscribe = append(p.Subscribe, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>")
	case Operator:
		p = Permissions{Publish: []string{">"}, Subscribe: []string{">"}}
	default:
		return Permissions{}, false
	}
	return p, true
}

// MustFor is For for the users this package names; it panics on another.
func MustFor(user string) Permissions {
	p, ok := For(user)
	if !ok {
		panic("natsauth: unknown user " + user)
	}
	return p
}

// service is what every service needs — the JetStream account info (its
// /health), ensuring the hub's streams (root.Run at every start), replies on
// its own inbox — plus parts.
func service(user string, parts ...[]string) Permissions {
	pub := []string{api("INFO")}
	for _, s := range stream.Names() {
		pub = append(pub, api("STREAM.INFO", s), api("STREAM.CREATE", s), api("STREAM.UPDATE", s))
	}
	for _, p := range parts {
		pub = append(pub, p...)
	}
	return Permissions{Publish: dedup(pub), Subscribe: []string{InboxPrefix(user) + ".>"}}
}

func publish(subjects ...string) []string { return subjects }

func api(op string, tokens ...string) string {
	return strings.Join(append([]string{"$JS.API." + op}, tokens...), ".")
}

// consumeAll is a consuming service's access to every hub stream: a route
// may read any of them, and its consumer is named after the route.
func consumeAll() []string {
	var out []string
	for _, s := range stream.Names() {
		out = append(out, consume(s)...)
	}
	return out
}

// consume is creating, reading, pulling from, acknowledging on and deleting
// (a drained replay consumer) the consumers of stream s.
func consume(s string) []string {
	return []string{
		api("CONSUMER.CREATE", s), api("CONSUMER.CREATE", s, ">"),
		api("CONSUMER.INFO", s, "*"),
		api("CONSUMER.MSG.NEXT", s, "*"),
		api("CONSUMER.DELETE", s, "*"),
		"$JS.ACK." + s + ".>",
	}
}

// inspectAll is reading every hub stream's and consumer's state.
func inspectAll() []string {
	var out []string
	for _, s := range stream.Names() {
		out = append(out, api("CONSUMER.LIST", s), api("CONSUMER.NAMES", s), api("CONSUMER.INFO", s, "*"))
	}
	return out
}

// readMessages is getting stored messages of stream s by sequence or subject.
func readMessages(s string) []string {
	return []string{api("STREAM.MSG.GET", s), api("DIRECT.GET", s), api("DIRECT.GET", s, ">")}
}

// bucket is using key-value bucket b: ensuring it, reading keys, watching
// (an ordered consumer on its stream, with flow control), and with write,
// putting and deleting keys.
func bucket(b string, write bool) []string {
	s := "KV_" + b
	out := append(readMessages(s),
		api("STREAM.INFO", s),
		api("CONSUMER.CREATE", s), api("CONSUMER.CREATE", s, ">"),
		api("CONSUMER.INFO", s, "*"),
		api("CONSUMER.DELETE", s, "*"),
		"$JS.FC."+s+".>",
	)
	if write {
		out = append(out, api("STREAM.CREATE", s), api("STREAM.UPDATE", s), "$KV."+b+".>")
	}
	return out
}

func dedup(in []string) []string {
	var out []string
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Server is p as nats-server's permissions.
func (p Permissions) Server() *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: slices.Clone(p.Publish)},
		Subscribe: &server.SubjectPermission{Allow: slices.Clone(p.Subscribe)},
	}
}

// NkeyUsers are the server's users for the given public nkeys (by user
// name), each with its permissions. Every user of Users must have a key.
func NkeyUsers(public map[string]string) ([]*server.NkeyUser, error) {
	var out []*server.NkeyUser
	for _, u := range Users() {
		pub, ok := public[u]
		if !ok || pub == "" {
			return nil, fmt.Errorf("natsauth: no nkey for user %s", u)
		}
		out = append(out, &server.NkeyUser{Nkey: pub, Permissions: MustFor(u).Server()})
	}
	return out, nil
}
