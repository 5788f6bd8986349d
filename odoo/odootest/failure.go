package odootest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FailureKind says how an injected failure fails a call.
type FailureKind int

// The failures FailNext can inject.
const (
	// FailFault answers an Odoo fault: Code and String over XML-RPC, the
	// matching status and error body over JSON-2.
	FailFault FailureKind = iota + 1
	// FailHTTP answers Status (502, 503, 429...) with a proxy's error page
	// and, when RetryAfter is set, a Retry-After header.
	FailHTTP
	// FailSerialization answers the PostgreSQL serialization failure Odoo
	// gives up with after its own retries.
	FailSerialization
	// FailHang answers nothing until the client gives up or the fake closes.
	FailHang
	// FailDrop closes the connection without an answer.
	FailDrop
)

// Failure is one injected failure (see FailNext).
type Failure struct {
	Kind       FailureKind
	Code       int           // FailFault: the XML-RPC faultCode
	String     string        // FailFault: the faultString
	Status     int           // FailHTTP: the HTTP status
	RetryAfter time.Duration // FailHTTP: the Retry-After header (whole seconds); 0 = none
	// Method limits the failure to calls of one method: an ORM method
	// ("create", "search_read") or a common one ("authenticate",
	// "version"); "" fails the next call whatever it is.
	Method string
}

// Fault is a failure answering an Odoo fault with code and faultString.
func Fault(code int, faultString string) Failure {
	return Failure{Kind: FailFault, Code: code, String: faultString}
}

// HTTPStatus is a failure answering an HTTP status, with a Retry-After
// header when retryAfter is not 0.
func HTTPStatus(status int, retryAfter time.Duration) Failure {
	return Failure{Kind: FailHTTP, Status: status, RetryAfter: retryAfter}
}

// SerializationFailure is a failure answering PostgreSQL's "could not
// serialize access due to concurrent update" through Odoo.
func SerializationFailure() Failure { return Failure{Kind: FailSerialization} }

// Hang is a failure that never answers: the call ends when the client's
// deadline does.
func Hang() Failure { return Failure{Kind: FailHang} }

// DropConnection is a failure that closes the connection unanswered.
func DropConnection() Failure { return Failure{Kind: FailDrop} }

// For limits f to calls of method.
func (f Failure) For(method string) Failure {
	f.Method = method
	return f
}

// faultError turns an injected fault into the exception JSON-2 renders.
func (f Failure) faultError() *odooError {
	switch f.Code {
	case 1:
		class, msg, ok := strings.Cut(exceptionText(f.String), ": ")
		if !ok || strings.ContainsAny(class, " \n") {
			class, msg = "Exception", exceptionText(f.String)
		}
		return &odooError{class: class, message: msg}
	case 3:
		return &odooError{class: clsAccessDenied, message: f.String}
	case 4:
		return &odooError{class: clsAccess, message: f.String}
	}
	return &odooError{class: clsUser, message: f.String}
}

// takeFailure removes and returns the first queued failure for method.
// The caller holds s.mu.
func (s *Server) takeFailure(method string) *Failure {
	for i, f := range s.failures {
		if f.Method == "" || f.Method == method {
			s.failures = append(s.failures[:i:i], s.failures[i+1:]...)
			return &f
		}
	}
	return nil
}

// injectHTTP handles the failures that are the same on every transport;
// it reports false for the ones the transport must render itself.
func (s *Server) injectHTTP(w http.ResponseWriter, r *http.Request, f Failure) bool {
	switch f.Kind {
	case FailHTTP:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Round(time.Second)/time.Second)))
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Connection", "close")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
			f.Status, http.StatusText(f.Status), f.Status, http.StatusText(f.Status))
		return true
	case FailHang:
		s.wait(r.Context(), -1)
		return true
	case FailDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return true
	}
	return false
}

// spend waits until a call that began at began has taken d in all: what
// the fake itself spent on it (decoding, searching, encoding) counts
// toward the cost it models, as a real server's time includes its own.
func (s *Server) spend(ctx context.Context, began time.Time, d time.Duration) {
	if rest := d - time.Since(began); d > 0 && rest > 0 {
		s.wait(ctx, rest)
	}
}

// wait waits d (forever when negative) or until the call or the fake ends.
func (s *Server) wait(ctx context.Context, d time.Duration) {
	if d == 0 {
		return
	}
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-ctx.Done():
	case <-s.closing:
	}
}

// exceptionText is the exception a traceback ends with: from the first
// unindented line after the last frame to the end.
func exceptionText(tb string) string {
	lines := strings.Split(strings.TrimRight(tb, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "  File ") {
			for j := i + 1; j < len(lines); j++ {
				if lines[j] != "" && !strings.HasPrefix(lines[j], " ") {
					return strings.Join(lines[j:], "\n")
				}
			}
			break
		}
	}
	return lines[len(lines)-1]
}
