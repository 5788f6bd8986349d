package odoo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// transport is one wire protocol to Odoo. Both return normalized values
// and *Fault errors without Model and Method (the Client fills those in).
type transport interface {
	version(ctx context.Context) (Version, error)
	// authenticate answers the user's uid, or 0 and no error when Odoo
	// rejected the credentials.
	authenticate(ctx context.Context) (int64, error)
	execute(ctx context.Context, uid int64, c call) (any, error)
}

// call is one execute_kw: positional args as XML-RPC takes them.
type call struct {
	model, method string
	args          []any
	kwargs        map[string]any
}

// Version is what Odoo says about itself.
type Version struct {
	ServerVersion     string // "19.0"
	ServerVersionInfo []any  // [19 0 0 "final" 0 ""]
	ServerSerie       string // "19.0"
	ProtocolVersion   int64  // 1 over XML-RPC, 0 when unknown
}

// Major is the major version (19), 0 when unknown.
func (v Version) Major() int64 {
	if len(v.ServerVersionInfo) > 0 {
		n, _ := toInt64(v.ServerVersionInfo[0])
		return n
	}
	return 0
}

// noRedirects is a copy of hc that never follows a redirect. Every call
// carries the credentials — the password in the XML-RPC body (which a 307
// or 308 sends again to wherever it points), the API key in JSON-2's
// Authorization header — so a redirect, even to the same host, is answered
// with a permanent *Fault naming where Odoo pointed: the configured url is
// out of date (http:// behind a proxy that redirects to https://, a moved
// instance), and only the operator can say the new address is trusted.
func noRedirects(hc *http.Client) *http.Client {
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// poster sends HTTP requests with the per-call timeout and turns a failure
// to get an answer into a transient *Fault.
type poster struct {
	client  *http.Client
	timeout time.Duration
}

// answer is an HTTP response read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (p *poster) do(ctx context.Context, method, url string, header http.Header, body []byte) (answer, error) {
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return answer{}, permanentFault("cannot build request: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", "pulsehub-odoo")
	resp, err := p.client.Do(req)
	if err != nil {
		return answer{}, netFault(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		to := "(no Location)"
		if loc, err := resp.Location(); err == nil {
			loc.User, loc.RawQuery, loc.Fragment = nil, "", ""
			to = loc.String()
		}
		f := permanentFault("a redirect to %s, not followed (it would take the credentials along): "+
			"set the instance's url to the address Odoo answers on", to)
		f.HTTPStatus = resp.StatusCode
		return answer{}, f
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, netFault(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// unexpected is the Fault for an answer that is not Odoo's: a proxy's error
// page, a maintenance page, a truncated body.
func unexpected(a answer, why string) *Fault {
	f := httpFault(a.status, "", why, snippet(a.body), retryAfter(a.header))
	if a.status == http.StatusOK {
		f.HTTPStatus = 0
		f.transient = true // not Odoo answering: a proxy or a restart, worth another try
	}
	return f
}

func snippet(b []byte) string {
	const max = 512
	if len(b) > max {
		b = b[:max]
	}
	return string(b)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
