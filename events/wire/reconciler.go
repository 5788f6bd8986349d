package wire

import "time"

// ReconcilerKey is the key of the GitHub reconciler's checkpoint in KV
// bucket checkpoints (events.BucketCheckpoints).
const ReconcilerKey = "github-reconciler"

// ReconcilerCheckpoint is the GitHub reconciler's checkpoint
// (schemas/reconciler-checkpoint.schema.json): the ingester replica
// running the reconciler writes it after each pass; the next pass, on
// whichever replica, resumes from it, and the health monitor reads Failed,
// At and the error fields from it, the same for every replica.
//
// A pass that fails (GitHub refuses the App's JWT, rate limits it, is
// unreachable) writes it too, with Since, Failed, Redelivered and At as
// they were and the error fields set, so the health page says why.
type ReconcilerCheckpoint struct {
	Since       time.Time `json:"since"`       // the next pass looks at deliveries from here on (less the overlap)
	Failed      int       `json:"failed"`      // delivery GUIDs with no successful attempt, as of the last complete pass
	Redelivered int       `json:"redelivered"` // redeliveries the last complete pass asked for
	At          time.Time `json:"at"`          // when the last complete pass ended

	// The listing's backlog: when a pass stopped at its page budget, the
	// deliveries between Since and BacklogFrom were listed only down to
	// BacklogCursor (GitHub's cursor). The next pass lists what is newer
	// than BacklogFrom, then goes on from the cursor down to Since; Since
	// moves only once the backlog is listed.
	BacklogCursor string    `json:"backlog_cursor,omitempty"`
	BacklogFrom   time.Time `json:"backlog_from,omitzero"`

	Pending int `json:"pending,omitempty"` // of Failed: GUIDs still to be asked for, or whose redelivery is awaited
	Refused int `json:"refused,omitempty"` // of Failed: GUIDs not asked again (GitHub refused to redeliver them, or the ingester refused every attempt)
	Errors  int `json:"errors,omitempty"`  // errors of the last pass (per delivery, or the one that ended it)

	ErrorClass  string    `json:"error_class,omitempty"` // the last pass's last error, a ReconcilerError* class; "" = none
	Error       string    `json:"error,omitempty"`       // that error, for a person
	ErrorAt     time.Time `json:"error_at,omitzero"`     // when it happened
	PausedUntil time.Time `json:"paused_until,omitzero"` // GitHub's rate limit: no request to GitHub before this time
}

// Classes of the reconciler's errors (ReconcilerCheckpoint.ErrorClass,
// and the class label of its error metric). The first four end a pass;
// the last two are about one delivery, and the pass goes on.
const (
	ReconcilerErrorJWTClock          = "jwt_clock"          // GitHub refused the App's JWT for its time claims: the hub's clock is off
	ReconcilerErrorUnauthorized      = "unauthorized"       // GitHub refused the App's JWT otherwise: wrong App id or key
	ReconcilerErrorRateLimited       = "rate_limited"       // GitHub's primary or secondary rate limit; requests wait until PausedUntil
	ReconcilerErrorGitHubUnavailable = "github_unavailable" // GitHub's API unreachable or answering 5xx
	ReconcilerErrorRefused           = "redelivery_refused" // GitHub refused one redelivery for good (422: too old, unknown)
	ReconcilerErrorRedelivery        = "redelivery_failed"  // one redelivery request failed and will be asked again later
)

// The ingester's reconciler gauges on its GET /metrics, which the health
// monitor reads when there is no checkpoint yet.
const (
	MetricReconcilerFailed  = "pulsehub_github_reconciler_failed_deliveries"          // failed deliveries the last pass found
	MetricReconcilerLastRun = "pulsehub_github_reconciler_last_run_timestamp_seconds" // end of the last complete pass, Unix seconds
)
