package events

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Subject tokens: the one rule for turning an arbitrary name (a GitHub
// event or action, an Odoo model, a route, a service, a task, a health
// target) into a NATS subject token.
//
//   - ASCII letters, digits, `_` and `-` stay as they are;
//   - `.` becomes `_`, so Odoo models read naturally in the NATS CLI
//     (`hr.expense` → `hr_expense`);
//   - every other byte — `*`, `>`, `%`, whitespace, control characters,
//     each byte of a non-ASCII character — becomes `%XX` (upper-case hex);
//   - the empty name becomes `_`.
//
// A token therefore never holds `.`, `*`, `>` or whitespace and is never
// empty. Untoken reverses the rule exactly for every name without a dot
// (GitHub events and actions, route, service and task names). Dotted names
// (Odoo models) are the one lossy case; parsers return the token and the
// exact name travels in the envelope (ce-subject, or the body), which is
// where a consumer reads it.
//
// A token is at most three times as long as its name; names are bounded
// where they arrive (MaxNameLen, bounds.go), never cut here, so that two
// names never share a token.
func Token(name string) string {
	if name == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isPlain(c):
			b.WriteByte(c)
		case c == '.':
			b.WriteByte('_')
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0xf])
		}
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

func isPlain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// Untoken reverses Token for names without dots: `%XX` sequences are
// decoded, everything else is kept.
func Untoken(tok string) string {
	if !strings.Contains(tok, "%") {
		return tok
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		if tok[i] == '%' && i+2 < len(tok) {
			if v, ok := unhex(tok[i+1], tok[i+2]); ok {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(tok[i])
	}
	return b.String()
}

func unhex(a, b byte) (byte, bool) {
	hi, ok1 := hexVal(a)
	lo, ok2 := hexVal(b)
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// NoAction is the action token of a GitHub event whose payload has none.
const NoAction = "none"

// GitHubSubject is github.<event>.<action>; an empty action is "none".
func GitHubSubject(event, action string) string {
	if action == "" {
		action = NoAction
	}
	return "github." + Token(event) + "." + Token(action)
}

// OdooEventSubject is odoo.event.<model>.<source>: a change of an Odoo
// record reported by the webhook source (or poll) named source.
func OdooEventSubject(model, source string) string {
	return "odoo.event." + Token(model) + "." + Token(source)
}

// OdooCmdSubject is odoo.cmd.<model>.<op>.
func OdooCmdSubject(model, op string) string {
	return "odoo.cmd." + Token(model) + "." + Token(op)
}

// JobSubject is jobs.<service>.<task>.
func JobSubject(service, task string) string {
	return "jobs." + Token(service) + "." + Token(task)
}

// JobScheduleSubject is where a delayed job waits for its time: the JOBS
// stream's scheduler publishes it to JobSubject(service, task) then. One
// subject per job id, since a schedule subject holds one pending schedule.
func JobScheduleSubject(service, task, id string) string {
	return "schedule.jobs." + Token(service) + "." + Token(task) + "." + Token(id)
}

// ResultSubject is results.<service>.<task>.
func ResultSubject(service, task string) string {
	return "results." + Token(service) + "." + Token(task)
}

// DLQSubject is dlq.<route>.<original subject>. An original too long to
// fit within MaxSubjectLen (a subject published from outside the hub, up
// to the server's max_control_line) keeps its leading tokens that fit and
// ends in _long_<16 hex digits of its SHA-256>: the dead letter can still
// be stored, the subject still names its family (dlq.<route>.jobs.ocr.…),
// and the exact original travels in the Pulsehub-Origin-Subject header.
func DLQSubject(route, original string) string {
	head := "dlq." + Token(route) + "."
	if len(head)+len(original) <= MaxSubjectLen {
		return head + original
	}
	return head + shortened(original, MaxSubjectLen-len(head))
}

// shortened is original cut at a token boundary and marked with its hash,
// in at most room bytes (original is longer than room).
func shortened(original string, room int) string {
	sum := sha256.Sum256([]byte(original))
	mark := "_long_" + hex.EncodeToString(sum[:8])
	n := room - len(mark) - 1 // the bytes of leading tokens that fit before ".<mark>"
	if n <= 0 {
		return mark
	}
	i := strings.LastIndexByte(original[:n+1], '.') // original[n] may be the dot after whole tokens
	if i <= 0 {
		return mark
	}
	return original[:i] + "." + mark
}

// HealthSubject is health.<target>.<status>.
func HealthSubject(target, status string) string {
	return "health." + Token(target) + "." + Token(status)
}

// ErrSubject is wrapped by every subject validation and parse error.
var ErrSubject = errors.New("invalid subject")

// ValidateSubject checks a subject to publish on: at most MaxSubjectLen
// bytes of non-empty tokens without wildcards or whitespace.
func ValidateSubject(s string) error { return validate(s, false) }

// ValidateFilter checks a subject filter: like ValidateSubject, but `*` may
// stand for a token and `>` for the rest.
func ValidateFilter(s string) error { return validate(s, true) }

func validate(s string, wildcards bool) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrSubject)
	}
	if len(s) > MaxSubjectLen {
		return fmt.Errorf("%w %q: %d bytes long, the most is %d: %w", ErrSubject, clipped(s), len(s), MaxSubjectLen, ErrTooLong)
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return fmt.Errorf("%w %q: empty token %d", ErrSubject, s, i+1)
		case wildcards && t == "*":
		case wildcards && t == ">":
			if i != len(toks)-1 {
				return fmt.Errorf("%w %q: '>' must be the last token", ErrSubject, s)
			}
		case strings.ContainsAny(t, "*> \t\r\n\f\v"):
			return fmt.Errorf("%w %q: token %q holds a wildcard or whitespace", ErrSubject, s, t)
		}
		for _, r := range t {
			if r < 0x20 || r == 0x7f {
				return fmt.Errorf("%w %q: control character in token %d", ErrSubject, s, i+1)
			}
		}
	}
	return nil
}

// parse splits s into its tokens after checking it starts with prefix and
// has exactly n tokens after it.
func parse(s, prefix string, n int) ([]string, error) {
	if err := ValidateSubject(s); err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(s, prefix+".")
	if !ok {
		return nil, fmt.Errorf("%w %q: want %s.<%d tokens>", ErrSubject, s, prefix, n)
	}
	toks := strings.SplitN(rest, ".", n)
	if len(toks) != n || (n > 0 && strings.Contains(toks[n-1], ".") && prefix != "dlq") {
		return nil, fmt.Errorf("%w %q: want %s.<%d tokens>", ErrSubject, s, prefix, n)
	}
	return toks, nil
}

// ParseGitHubSubject returns the event and action of github.<event>.<action>.
func ParseGitHubSubject(s string) (event, action string, err error) {
	t, err := parse(s, "github", 2)
	if err != nil {
		return "", "", err
	}
	return Untoken(t[0]), Untoken(t[1]), nil
}

// ParseOdooEventSubject returns the model token and source of an Odoo event.
func ParseOdooEventSubject(s string) (modelToken, source string, err error) {
	t, err := parse(s, "odoo.event", 2)
	if err != nil {
		return "", "", err
	}
	return t[0], Untoken(t[1]), nil
}

// ParseOdooCmdSubject returns the model token and op of an Odoo command.
func ParseOdooCmdSubject(s string) (modelToken, op string, err error) {
	t, err := parse(s, "odoo.cmd", 2)
	if err != nil {
		return "", "", err
	}
	return t[0], Untoken(t[1]), nil
}

// ParseJobSubject returns the service and task of jobs.<service>.<task>.
func ParseJobSubject(s string) (service, task string, err error) {
	t, err := parse(s, "jobs", 2)
	if err != nil {
		return "", "", err
	}
	return Untoken(t[0]), Untoken(t[1]), nil
}

// ParseResultSubject returns the service and task of results.<service>.<task>.
func ParseResultSubject(s string) (service, task string, err error) {
	t, err := parse(s, "results", 2)
	if err != nil {
		return "", "", err
	}
	return Untoken(t[0]), Untoken(t[1]), nil
}

// ParseDLQSubject returns the route and the original subject of a dead letter.
func ParseDLQSubject(s string) (route, original string, err error) {
	t, err := parse(s, "dlq", 2)
	if err != nil {
		return "", "", err
	}
	return Untoken(t[0]), t[1], nil
}

// ParseHealthSubject returns the target and status of health.<target>.<status>.
func ParseHealthSubject(s string) (target, status string, err error) {
	t, err := parse(s, "health", 2)
	if err != nil {
		return "", "", err
	}
	return Untoken(t[0]), Untoken(t[1]), nil
}
