// Package probe checks the things Pulse Hub depends on, one kind of check
// per file: HTTP health endpoints, Odoo over XML-RPC, the NATS server and
// JetStream, each route's consumer, the dispatcher's circuit breakers and
// the ingester's GitHub reconciler; and counts JetStream's MAX_DELIVERIES
// advisories. A probe turns everything it sees, failures included, into
// results; it never decides hysteresis or stores anything.
package probe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// Kinds of target, as in schemas/health-status.schema.json.
const (
	KindHTTP       = "http"       // a /health URL
	KindOdoo       = "odoo"       // Odoo's version call and a login
	KindNATS       = "nats"       // the NATS server and JetStream
	KindConsumer   = "consumer"   // a route's durable consumer
	KindService    = "service"    // one of the hub's own services
	KindBreaker    = "breaker"    // a dispatcher circuit breaker
	KindReconciler = "reconciler" // the GitHub redelivery reconciler
)

// Result is what one probe saw of one target.
type Result struct {
	Target    string         // [a-z0-9-]: the KV key, metric label and subject token
	Kind      string         // one of the Kind constants
	Status    status.Status  // what this one result says, before hysteresis
	Latency   time.Duration  // how long the probe took
	Message   string         // one line a person can act on
	Details   map[string]any // probe-specific measurements
	CheckedAt time.Time      // when the probe started

	Route *stream.RouteInfo // the consumer's state, for KindConsumer
}

// Probe checks its targets once. Check honours ctx's deadline and reports
// a target it could not reach as a result, not an error; the error is for
// a probe that could not even tell which targets exist (a failed listing).
type Probe interface {
	Name() string // for logs: "http-ocr", "routes"
	Check(ctx context.Context) ([]Result, error)
}

// Clock is time.Now, replaceable so tests can decide how long a probe took.
type Clock func() time.Time

// Now is the time on the clock.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c()
}

// TargetName joins prefix and name into a target name of lower-case
// letters, digits and '-'. A name that is not already made of those is
// cleaned and gets a short hash of the original, so two names never share
// a target: "Github_Issues" becomes "github-issues-3f2a1c". A target is
// at most maxTarget bytes (it is a subject token and a KV key): a longer
// one keeps what fits of its start and ends in a longer hash of the whole
// name, so it is not cut into another's.
func TargetName(prefix, name string) string {
	clean := name
	if !isTargetToken(name) {
		clean = cleaned(name)
		if clean != "" {
			clean += "-"
		}
		clean += hash(name, 3)
	}
	if prefix != "" {
		clean = prefix + "-" + clean
	}
	if len(clean) <= maxTarget {
		return clean
	}
	mark := hash(name, 8)
	keep := strings.TrimRight(clean[:maxTarget-len(mark)-1], "-")
	return keep + "-" + mark
}

// maxTarget bounds a target name.
const maxTarget = 128

// cleaned is name in lower case with every other character than a
// letter, a digit or '-' turned into '-', trimmed of '-'.
func cleaned(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// hash is the first n bytes of name's SHA-256, in hex.
func hash(name string, n int) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:n])
}

// IsTargetName reports whether s is a valid target name.
func IsTargetName(s string) bool { return isTargetToken(s) }

func isTargetToken(s string) bool {
	if s == "" || len(s) > maxTarget {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// graded fills in a result's status from its latency when the probe itself
// found nothing wrong; a probe's own verdict is kept when it is worse.
func graded(r Result, l status.Latency) Result {
	s, why := l.Grade(r.Latency)
	if s.Rank() > r.Status.Rank() {
		r.Status = s
		r.Message = joinMessage(why, r.Message)
	}
	return r
}

func joinMessage(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "; ")
}
