package wire

import "time"

// ReconcilerKey is the key of the GitHub reconciler's checkpoint in KV
// bucket checkpoints (events.BucketCheckpoints).
const ReconcilerKey = "github-reconciler"

// ReconcilerCheckpoint is the GitHub reconciler's checkpoint
// (schemas/reconciler-checkpoint.schema.json): the ingester replica
// running the reconciler writes it after each pass; the next pass, on
// whichever replica, resumes from it, and the health monitor reads Failed
// and At from it, the same for every replica.
type ReconcilerCheckpoint struct {
	Since       time.Time `json:"since"`       // the next pass looks at deliveries from here on
	Failed      int       `json:"failed"`      // delivery GUIDs the last pass found with no successful attempt
	Redelivered int       `json:"redelivered"` // redeliveries the last pass asked for
	At          time.Time `json:"at"`          // when the last pass ended
}

// The ingester's reconciler gauges on its GET /metrics, which the health
// monitor reads when there is no checkpoint yet.
const (
	MetricReconcilerFailed  = "pulsehub_github_reconciler_failed_deliveries"          // failed deliveries the last pass found
	MetricReconcilerLastRun = "pulsehub_github_reconciler_last_run_timestamp_seconds" // end of the last complete pass, Unix seconds
)
