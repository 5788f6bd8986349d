package events

// Streams: one per subject family (docs/architecture.md lists their
// subjects, writers and limits; package stream declares them).
const (
	StreamGitHub  = "GITHUB"   // github.<event>.<action>
	StreamOdoo    = "ODOO"     // odoo.event.<model>.<source>
	StreamOdooCmd = "ODOO_CMD" // odoo.cmd.<model>.<op>
	StreamJobs    = "JOBS"     // jobs.<service>.<task>, and schedule.jobs.> for delayed jobs
	StreamResults = "RESULTS"  // results.<service>.<task>
	StreamDLQ     = "DLQ"      // dlq.<route>.<original subject>
	StreamHealth  = "HEALTH"   // health.<target>.<status>, audit.<source>.<action>
)

// Key-value buckets the services keep state in.
const (
	BucketHealth      = "health"      // healthmon: one key per target, with history
	BucketJobs        = "jobs"        // dispatcher: job state (queue_job's job list)
	BucketResults     = "results"     // dispatcher: result cache by Idempotency-Key
	BucketGraphs      = "graphs"      // dispatcher: job graph definitions (package graph)
	BucketCheckpoints = "checkpoints" // ingester: Odoo poll and GitHub reconciler checkpoints
	BucketLeases      = "leases"      // package lease: which replica runs each singleton job (ingester polls and reconciler, healthmon publisher)

	BucketGitHubRedeliveries = "github-redeliveries" // ingester: the GitHub reconciler's failed deliveries, one key per delivery GUID
)

// Headers of the envelope: CloudEvents 1.0 in binary content mode (the
// NATS protocol binding), plus the correlation extensions.
const (
	HeaderSpecVersion   = "ce-specversion"
	HeaderID            = "ce-id"
	HeaderSource        = "ce-source"
	HeaderType          = "ce-type"
	HeaderTime          = "ce-time"
	HeaderSubject       = "ce-subject"
	HeaderContentType   = "content-type"
	HeaderCorrelationID = "ce-correlationid" // same on every message derived from one original event
	HeaderCausationID   = "ce-causationid"   // ce-id of the message this one was derived from
	HeaderTraceParent   = "traceparent"      // W3C trace context, passed on untouched
	HeaderMsgID         = "Nats-Msg-Id"      // = ce-id, so JetStream de-duplicates redeliveries
)

// Headers the hub adds to dead letters (schemas/dlq.schema.json), written
// and read through consume.DeadLetterInfo, and those of a requeued message.
const (
	HeaderDLQReason     = "Pulsehub-Dlq-Reason"
	HeaderDLQKind       = "Pulsehub-Dlq-Kind"
	HeaderDLQAttempts   = "Pulsehub-Dlq-Attempts"
	HeaderDLQTime       = "Pulsehub-Dlq-Time"
	HeaderOriginStream  = "Pulsehub-Origin-Stream"
	HeaderOriginSeq     = "Pulsehub-Origin-Seq"
	HeaderOriginSubject = "Pulsehub-Origin-Subject"
	HeaderRoute         = "Pulsehub-Route"
	HeaderRequeuedFrom  = "Pulsehub-Requeued-From" // DLQ sequence a requeued message came from
	HeaderRequeuedFor   = "Pulsehub-Requeued-For"  // the one route a requeued message is for; other routes skip it
)

// SpecVersion is the CloudEvents version of the envelope.
const SpecVersion = "1.0"
