package events

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Bounds on what input can become. A name that arrives from outside — an
// Odoo model in a webhook body, a GitHub event or action, a job's service
// and task, a name in the config — becomes a subject token, a header value
// or a key-value key. nats-server reads each protocol line (PUB or HPUB,
// the subject, the reply inbox and the sizes) into a buffer of at most its
// max_control_line, 4,096 bytes by default; a longer line makes it close
// the connection for good, and nats.go does not reconnect. So:
//
//   - every name has a length limit (MaxNameLen, MaxIDLen), enforced where
//     it arrives: a 400 for a request, a problem in `hub config check`, a
//     permanent error (the DLQ) for a message. Nothing is cut to fit: two
//     names that differ only past the cut would silently become one
//     subject or one key;
//   - every subject the hub publishes is checked against MaxSubjectLen
//     before it is sent (CheckSubject): a subject over it is a permanent
//     error, never a publish.
const (
	// MaxNameLen bounds a name that becomes one subject token: Odoo model
	// names (Odoo's registry takes at most 63 bytes, PostgreSQL's limit on
	// the table name), GitHub event names and actions, Odoo source names,
	// route, service, task and Odoo instance names.
	MaxNameLen = 64
	// MaxIDLen bounds an id from outside that becomes a header value
	// (Nats-Msg-Id, ce-id), a token or a KV key: a GitHub delivery GUID,
	// a job's identity_key, a job id (a KV key of bucket jobs).
	MaxIDLen = 128
	// MaxTokenLen is the longest token Token makes of a name within
	// MaxNameLen: every byte escaped as %XX.
	MaxTokenLen = 3 * MaxNameLen
	// MaxSubjectLen bounds every subject the hub publishes on and every
	// subject filter it takes: 1 KiB, a quarter of nats-server's default
	// max_control_line (4,096), which leaves room for the reply inbox and
	// the sizes on the same line. The longest subject the hub builds from
	// names within their limits is 264 bytes (github.<event>.<action>, a
	// 64-byte action with every byte escaped).
	MaxSubjectLen = 1024
)

// ErrTooLong is wrapped by every error about a name, id or subject over
// its limit.
var ErrTooLong = errors.New("too long")

// CheckName reports a name over MaxNameLen; what says which name it is
// in the error ("X-GitHub-Event", "_model").
func CheckName(what, name string) error { return checkLen(what, name, MaxNameLen) }

// CheckID reports an id over MaxIDLen.
func CheckID(what, id string) error { return checkLen(what, id, MaxIDLen) }

func checkLen(what, s string, limit int) error {
	if len(s) <= limit {
		return nil
	}
	return fmt.Errorf("%s is %d bytes long, the most is %d: %w", what, len(s), limit, ErrTooLong)
}

// IsName reports whether s is a plain name: 1 to MaxNameLen ASCII letters,
// digits, '_' or '-', so that it is its own subject token, consumer name
// and KV key (route, source, service, task and instance names, GitHub
// event names).
func IsName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isPlain(s[i]) {
			return false
		}
	}
	return true
}

var odooModel = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// IsOdooModel reports whether s is an Odoo model name (project.task): at
// most MaxNameLen bytes of lower-case letters, digits and '_', in
// dot-separated parts, starting with a letter.
func IsOdooModel(s string) bool { return len(s) <= MaxNameLen && odooModel.MatchString(s) }

// CheckSubject is the last check before a publish: ValidateSubject,
// including MaxSubjectLen, as a permanent error (the same subject fails
// the same way every time).
func CheckSubject(s string) error {
	if err := ValidateSubject(s); err != nil {
		return Permanent(fmt.Errorf("refusing to publish: %w", err))
	}
	return nil
}

// ValidateResultSubject checks a subject a result may be published on
// (a job's or a route's result_subject): a valid subject in stream
// RESULTS, under results. — never another stream's, so a job cannot make
// the dispatcher publish an Odoo command or a GitHub event.
func ValidateResultSubject(s string) error {
	if err := ValidateSubject(s); err != nil {
		return err
	}
	if !strings.HasPrefix(s, "results.") {
		return fmt.Errorf("%w %q: not in stream %s (its subjects start with results.)", ErrSubject, s, StreamResults)
	}
	return nil
}

// clipped is the start of s for an error message about it.
func clipped(s string) string {
	const n = 48
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
