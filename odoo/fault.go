package odoo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"
)

// Fault is every error a Client returns: an Odoo fault, an HTTP error
// status, or a failure to reach Odoo at all. Callers inspect it with
// errors.As; Transient says whether trying again later can help, and the
// hub's events.Classify honours that answer.
type Fault struct {
	// Code is the XML-RPC faultCode (1 any exception, 2 user/validation/
	// missing record/unknown model, 3 access denied, 4 access error); 0
	// for JSON-2 and for failures that never reached Odoo.
	Code int
	// HTTPStatus is the HTTP status when it was not 200; 0 otherwise.
	HTTPStatus int
	// Name is the exception's class: JSON-2's "name"
	// ("odoo.exceptions.MissingError"), or the class on the last line of a
	// code-1 traceback ("ValueError", "psycopg2.errors.SerializationFailure").
	Name string
	// Message is Odoo's message: for a code-1 traceback its last line
	// ("KeyError: 'no_such_field'"), else the faultString or JSON-2
	// "message", or what went wrong before Odoo answered.
	Message string
	// Detail is the full text for logs: the whole traceback, or the start of
	// an unexpected HTTP body.
	Detail string
	// Model and Method name the call that failed.
	Model, Method string
	// RetryAfter is the server's Retry-After (429, 503), 0 when absent.
	RetryAfter time.Duration
	// Err is the underlying error when Odoo was not reached or did not
	// answer (context deadline, refused or reset connection).
	Err error

	transient bool
}

// Transient reports whether trying the same call again later can succeed.
func (f *Fault) Transient() bool { return f.transient }

// Unwrap returns the underlying network or context error, if any.
func (f *Fault) Unwrap() error { return f.Err }

// Error is one line: the call, the code or status, and Odoo's message.
func (f *Fault) Error() string {
	var b strings.Builder
	b.WriteString("odoo")
	if f.Model != "" || f.Method != "" {
		b.WriteString(" " + strings.Trim(f.Model+"."+f.Method, "."))
	}
	b.WriteString(": ")
	if f.Code != 0 {
		fmt.Fprintf(&b, "fault %d: ", f.Code)
	}
	if f.HTTPStatus != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", f.HTTPStatus)
	}
	msg := strings.Join(strings.Fields(f.Message), " ")
	if f.Name != "" && !strings.HasPrefix(msg, f.Name) && !strings.HasPrefix(msg, shortName(f.Name)) {
		b.WriteString(f.Name + ": ")
	}
	b.WriteString(msg)
	if f.Err != nil {
		b.WriteString(": " + f.Err.Error())
	}
	return b.String()
}

// IsMissingRecord reports whether err says a record does not exist or was
// deleted (MissingError: XML-RPC fault 2, JSON-2 404).
func IsMissingRecord(err error) bool {
	f, ok := asFault(err)
	return ok && (strings.HasSuffix(f.Name, "MissingError") ||
		f.Code == 2 && strings.HasPrefix(f.Message, "Record does not exist or has been deleted"))
}

// IsAccessDenied reports whether Odoo rejected the credentials (fault 3,
// JSON-2 401, or authenticate answering false).
func IsAccessDenied(err error) bool {
	f, ok := asFault(err)
	return ok && f.accessDenied()
}

// IsAccessError reports whether the user lacks rights on a model (fault 4,
// JSON-2 403).
func IsAccessError(err error) bool {
	f, ok := asFault(err)
	return ok && (f.Code == 4 || f.HTTPStatus == 403 || strings.HasSuffix(f.Name, "AccessError"))
}

// IsUnknownModel reports whether the model does not exist in the database.
func IsUnknownModel(err error) bool {
	f, ok := asFault(err)
	return ok && (f.Code == 2 && strings.HasPrefix(f.Message, "Object ") && strings.HasSuffix(f.Message, " doesn't exist") ||
		f.HTTPStatus == 404 && strings.HasPrefix(f.Message, "the model "))
}

// RetryDelay is the delay Odoo (or its proxy) asked for; events.Classify's
// sibling events.RetryAfterOf reads it, so the hub's retry policy honours it.
func (f *Fault) RetryDelay() time.Duration { return f.RetryAfter }

// RetryAfter returns the delay a server asked for before the next attempt
// (HTTP Retry-After), 0 when none. Callers pass it on, e.g. with
// events.RetryAfter(err, odoo.RetryAfter(err)).
func RetryAfter(err error) time.Duration {
	if f, ok := asFault(err); ok {
		return f.RetryAfter
	}
	return 0
}

func asFault(err error) (*Fault, bool) {
	var f *Fault
	ok := errors.As(err, &f)
	return f, ok
}

const nameAccessDenied = "odoo.exceptions.AccessDenied"

func (f *Fault) accessDenied() bool {
	return f.Code == 3 || f.HTTPStatus == 401 || f.Name == nameAccessDenied
}

// rpcFault builds the Fault for an XML-RPC fault, classifying it.
func rpcFault(code int, faultString string) *Fault {
	f := &Fault{Code: code, Message: faultString, Detail: faultString}
	switch code {
	case 1:
		f.Message = exceptionText(faultString)
		f.Name = exceptionClass(f.Message)
		f.transient = isTransientException(f.Name, f.Message)
	case 3:
		f.Name = nameAccessDenied
	}
	return f
}

// httpFault builds the Fault for a non-200 answer. name and message come
// from a JSON-2 error body, empty when the body was not Odoo's.
func httpFault(status int, name, message, detail string, retryAfter time.Duration) *Fault {
	f := &Fault{HTTPStatus: status, Name: name, Message: message, Detail: detail, RetryAfter: retryAfter}
	switch {
	case status == 408 || status == 425 || status == 429 || status == 502 || status == 503 || status == 504:
		f.transient = true
	case status == 500 && name != "":
		f.transient = isTransientException(name, message+"\n"+lastLine(detail))
	case status >= 500:
		f.transient = true // a 5xx that is not Odoo's own answer: a proxy or a restart
	}
	return f
}

// netFault builds the Fault for a call that got no answer from Odoo.
func netFault(err error) *Fault {
	msg := "request failed"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		msg = "timed out"
	case errors.Is(err, context.Canceled):
		msg = "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		msg = "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "connection closed before the answer"
	}
	return &Fault{Message: msg, Err: err, transient: true}
}

// permanentFault is a failure on this side that retrying cannot fix.
func permanentFault(format string, args ...any) *Fault {
	return &Fault{Message: fmt.Sprintf(format, args...)}
}

// transientExceptions are the classes, matched on the last dotted
// component, that PostgreSQL concurrency or availability problems surface
// as through Odoo; the same call can succeed a moment later.
var transientExceptions = map[string]bool{
	"SerializationFailure":      true,
	"TransactionRollbackError":  true,
	"TransactionRollback":       true,
	"LockNotAvailable":          true,
	"DeadlockDetected":          true,
	"ConcurrencyError":          true,
	"PoolError":                 true,
	"OperationalError":          true,
	"InterfaceError":            true,
	"QueryCanceledError":        true,
	"ConcurrentTransactionFail": true,
}

var transientMessages = []string{
	"could not serialize access",
	"deadlock detected",
	"could not obtain lock",
	"canceling statement due to lock timeout",
	"The Connection Pool Is Full",
}

func isTransientException(name, message string) bool {
	if strings.Contains(message, "does not exist") {
		return false // OperationalError for an unknown database: a config error
	}
	if transientExceptions[shortName(name)] {
		return true
	}
	for _, m := range transientMessages {
		if strings.Contains(message, m) {
			return true
		}
	}
	return false
}

// lastLine is the last non-empty line of a traceback: the exception.
func lastLine(s string) string {
	s = strings.TrimRight(s, " \t\r\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// exceptionText is the exception at the end of a traceback: the first
// line after the last frame that is not indented, through the end (an
// exception message may span lines). Text that is not a traceback is
// returned trimmed.
func exceptionText(tb string) string {
	lines := strings.Split(strings.TrimRight(tb, " \t\r\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], "  File ") {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if lines[j] != "" && !strings.HasPrefix(lines[j], " ") {
				return strings.TrimSpace(strings.Join(lines[j:], "\n"))
			}
		}
		break
	}
	if strings.HasPrefix(tb, "Traceback ") {
		return lastLine(tb)
	}
	return strings.TrimSpace(tb)
}

// exceptionClass is "ValueError" in "ValueError: Invalid field ...", or
// empty when the line does not start with a class name.
func exceptionClass(line string) string {
	name, _, _ := strings.Cut(line, ":")
	if name == "" || strings.ContainsAny(name, " \t'\"()") {
		return ""
	}
	return name
}

func shortName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}
