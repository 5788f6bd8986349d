package embedded

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// SyncAlways is the embedded.sync_interval that makes JetStream fsync every
// write before it acknowledges it.
const SyncAlways = "always"

// DefaultSyncInterval is embedded.sync_interval's default: a power loss
// (not a crash: the OS still has the writes) can lose at most about the
// last second of acknowledged events. Measured (docs/performance.md,
// scenario 7): 1s costs no throughput the noise shows, while always cuts
// ingest to about a quarter and the dispatcher to about an eighth.
const DefaultSyncInterval = "1s"

// minSyncInterval keeps a typo such as "1ns" from turning the store's sync
// timer into a busy loop; for a sync on every write there is "always".
const minSyncInterval = time.Millisecond

// parseSync reads an embedded.sync_interval: "always", or a Go duration of
// at least a millisecond.
func parseSync(s string) (interval time.Duration, always bool, err error) {
	if strings.EqualFold(strings.TrimSpace(s), SyncAlways) {
		return 0, true, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < minSyncInterval {
		return 0, false, fmt.Errorf("want %q or a duration of at least %s (such as 1s or 2m), got %q", SyncAlways, minSyncInterval, s)
	}
	return d, false, nil
}

// applySync sets how often JetStream fsyncs its file store: on every write
// (always) or every interval. It replaces what a config_file said.
func applySync(opts *server.Options, s string) error {
	interval, always, err := parseSync(s)
	if err != nil {
		return fmt.Errorf("embedded.sync_interval: %w", err)
	}
	// Under always the interval stays 0: the server fills in its default
	// (2m) for the background pass that syncs what no write did (index
	// files), as its own parser does for `sync_interval: always`.
	opts.SyncAlways, opts.SyncInterval = always, interval
	return nil
}
