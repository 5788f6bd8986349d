// Package events is what every Pulse Hub service shares about messages: the
// CloudEvents envelope carried in NATS headers, the subject taxonomy with
// its builders and parsers, the stream and bucket names, and the one error
// type that says whether a failure is worth retrying.
//
// Sub-packages hold the shared mechanisms: config (YAML + environment +
// secrets), stream (streams, buckets and consumers as code), consume (the
// one consume loop and its middleware), route (routes from the hub config),
// bus (connecting to NATS), serve (/health and /metrics), wire (the types
// of what one service serves or stores for another to read), and natstest
// (real in-process nats-servers for tests).
package events
