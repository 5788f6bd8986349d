// Package stream declares the hub's streams, key-value buckets and route
// consumers as code, and ensures them on a JetStream server: missing ones
// are created, changed limits are applied, and a change JetStream cannot
// make in place (storage, retention) is reported instead of deleting data.
package stream

import (
	"fmt"
	"sort"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/nats-io/nats.go/jetstream"
)

// Limits are the per-stream settings an operator may change.
type Limits struct {
	MaxAge          time.Duration `yaml:"max_age"`          // how long messages are kept; 0 = forever
	MaxBytes        int64         `yaml:"max_bytes"`        // size cap in bytes, oldest dropped first; -1 = none
	MaxMsgs         int64         `yaml:"max_msgs"`         // message cap, oldest dropped first; -1 = none
	DuplicateWindow time.Duration `yaml:"duplicate_window"` // how long a Nats-Msg-Id is remembered for de-duplication
}

// Config is the `streams:` section of the hub config.
type Config struct {
	Replicas int               `yaml:"replicas"` // 1 on one server, 3 on a cluster (default 1)
	Limits   map[string]Limits `yaml:"limits"`   // per stream name (GITHUB, ODOO, ...); defaults below
}

// family describes one stream of the taxonomy.
type family struct {
	name      string
	subjects  []string
	desc      string
	limits    Limits
	schedules bool // allows Nats-Schedule (delayed messages)
}

const day = 24 * time.Hour

var families = []family{
	// GITHUB remembers a delivery GUID for GitHub's 3-day retention: the
	// reconciler may ask for a redelivery of a delivery the hub stored
	// but GitHub logged as failed up to its lookback (70 h) later.
	{events.StreamGitHub, []string{"github.>"}, "GitHub App webhook deliveries, body as received",
		Limits{MaxAge: 30 * day, MaxBytes: -1, MaxMsgs: -1, DuplicateWindow: 3 * day}, false},
	{events.StreamOdoo, []string{"odoo.event.>"}, "Odoo record changes from webhook actions and polls",
		Limits{MaxAge: 30 * day, MaxBytes: -1, MaxMsgs: -1, DuplicateWindow: day}, false},
	{events.StreamOdooCmd, []string{"odoo.cmd.>"}, "explicit write commands for the Odoo writer",
		Limits{MaxAge: 30 * day, MaxBytes: -1, MaxMsgs: -1, DuplicateWindow: day}, false},
	{events.StreamJobs, []string{"jobs.>", "schedule.jobs.>"}, "microservice jobs (queue_job's with_delay), delayed ones waiting on schedule.jobs.>",
		Limits{MaxAge: 30 * day, MaxBytes: -1, MaxMsgs: -1, DuplicateWindow: day}, true},
	{events.StreamResults, []string{"results.>"}, "microservice answers, linked to their requests",
		Limits{MaxAge: 30 * day, MaxBytes: -1, MaxMsgs: -1, DuplicateWindow: 2 * time.Minute}, false},
	{events.StreamDLQ, []string{"dlq.>"}, "dead letters: the original message with the reason in headers",
		Limits{MaxAge: 90 * day, MaxBytes: -1, MaxMsgs: -1, DuplicateWindow: 2 * time.Minute}, false},
	{events.StreamHealth, []string{"health.>", "audit.>"}, "health status transitions, and the operator console's audit events (audit.>)",
		Limits{MaxAge: 30 * day, MaxBytes: -1, MaxMsgs: -1, DuplicateWindow: 2 * time.Minute}, false},
}

// Names lists every stream the hub uses.
func Names() []string {
	out := make([]string, len(families))
	for i, f := range families {
		out[i] = f.name
	}
	return out
}

// DefaultConfig is one replica and every stream's default limits.
func DefaultConfig() Config {
	c := Config{Replicas: 1, Limits: map[string]Limits{}}
	for _, f := range families {
		c.Limits[f.name] = f.limits
	}
	return c
}

// Validate reports every problem under path (e.g. "streams").
func (c Config) Validate(path string) config.Problems {
	var ps config.Problems
	if c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5 {
		ps.Add(path+".replicas", "must be 1 (one server), 3 or 5 (a cluster), got %d", c.Replicas)
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.name] = true
	}
	names := make([]string, 0, len(c.Limits))
	for n := range c.Limits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l, p := c.Limits[n], fmt.Sprintf("%s.limits.%s", path, n)
		switch {
		case !known[n]:
			ps.Add(p, "unknown stream (known: %v)", Names())
		case l.MaxAge < 0:
			ps.Add(p+".max_age", "must not be negative")
		case l.DuplicateWindow <= 0:
			ps.Add(p+".duplicate_window", "must be positive")
		case l.MaxAge > 0 && l.DuplicateWindow > l.MaxAge:
			ps.Add(p+".duplicate_window", "%s is longer than max_age %s", l.DuplicateWindow, l.MaxAge)
		}
	}
	return ps
}

// Specs builds the stream configurations from c: file storage, limits
// retention, the subjects of each family.
func Specs(c Config) []jetstream.StreamConfig {
	out := make([]jetstream.StreamConfig, 0, len(families))
	for _, f := range families {
		l, ok := c.Limits[f.name]
		if !ok {
			l = f.limits
		}
		replicas := c.Replicas
		if replicas == 0 {
			replicas = 1
		}
		out = append(out, jetstream.StreamConfig{
			Name:              f.name,
			Description:       f.desc,
			Subjects:          append([]string(nil), f.subjects...),
			Retention:         jetstream.LimitsPolicy,
			Storage:           jetstream.FileStorage,
			Discard:           jetstream.DiscardOld,
			MaxAge:            l.MaxAge,
			MaxBytes:          orUnlimited(l.MaxBytes),
			MaxMsgs:           orUnlimited(l.MaxMsgs),
			Duplicates:        l.DuplicateWindow,
			Replicas:          replicas,
			AllowMsgSchedules: f.schedules,
		})
	}
	return out
}

func orUnlimited(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// Bucket returns the configuration of one of the hub's key-value buckets
// with c's replicas. history is how many values per key are kept (1–64);
// ttl expires values (0 = never).
func Bucket(c Config, name, desc string, history uint8, ttl time.Duration) jetstream.KeyValueConfig {
	replicas := c.Replicas
	if replicas == 0 {
		replicas = 1
	}
	return jetstream.KeyValueConfig{
		Bucket:      name,
		Description: desc,
		History:     history,
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}
