// Package wire holds the Go types of what one Pulse Hub service writes
// and another reads outside the events' own bodies: the HTTP answers the
// services give each other (a service's GET /health, the dispatcher's
// GET /breakers) and the KV values and metrics one service keeps for
// another to read (the GitHub reconciler's checkpoint and gauges).
//
// Each contract is declared once, here, and both sides use it: the writer
// fills the type, the reader decodes into it. The package sits in the
// shared events module and imports nothing, so a reader does not depend on
// the service it reads (the health monitor does not import the dispatcher
// to read its breakers, nor the ingester and its GitHub client to read the
// reconciler's checkpoint). The names on the wire (JSON fields, keys,
// metric names) are the ones the hub has always used: stored values and
// the runbook keep working.
//
// Messages on the streams are not here: their schemas are in schemas/,
// the envelope and dead-letter headers are constants in package events,
// and package consume reads a dead letter's headers (DeadLetterInfo).
package wire
