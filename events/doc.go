// Package events is what every Pulse Hub service shares about messages: the
// CloudEvents envelope carried in NATS headers, the subject taxonomy with
// its builders and parsers, the stream, bucket and header names, and the
// one error type that says whether a failure is worth retrying.
//
// Its sub-packages hold the mechanisms the services share, each written
// once:
//
//   - config: the YAML loader, PULSEHUB_* environment overrides and
//     secrets, reporting every problem at once.
//   - stream: streams, key-value buckets and consumers as code, ensured
//     on the server through leader elections.
//   - consume: the one consume loop and its middleware (logging,
//     metrics, dead-lettering, retry, panic recovery).
//   - route: the routes of the hub config, validated, with their jq
//     expressions compiled.
//   - service: what a service is built from: its dependencies, the NATS
//     connection the composition root opens for it (Open), JSON logging,
//     and the HTTP server with /health and /metrics.
//   - supervise: the one supervisor: named tasks, the first failure
//     stops all.
//   - lease: one replica at a time for singleton work, through a KV key.
//   - wire: the types of what one service serves or stores for another
//     to read.
//   - natstest: real in-process nats-servers and clusters for tests.
//
// docs/architecture.md shows how the services use them.
package events
