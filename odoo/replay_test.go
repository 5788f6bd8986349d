package odoo_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
)

// replay is a server that answers with the recorded Odoo responses,
// status line, headers and body byte for byte, so the client is proven
// against real Odoo bytes rather than only against the fake.
type replay struct {
	t      *testing.T
	routes map[string]string // URL path -> fixture, e.g. "xmlrpc/ok-authenticate.xml"
	mu     sync.Mutex
	hits   map[string]int
}

// contextGet is JSON-2's answer to res.users/context_get, which the
// recordings do not hold.
const contextGet = "json2/context_get"

func newReplay(t *testing.T, routes map[string]string) (*replay, string) {
	rp := &replay{t: t, routes: routes, hits: map[string]int{}}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return rp, srv.URL
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	rp.mu.Lock()
	rp.hits[r.URL.Path]++
	rp.mu.Unlock()
	name, ok := rp.routes[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	var raw []byte
	if name == contextGet {
		body := `{"lang": "en_US", "tz": "UTC", "uid": 2}`
		raw = fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	} else {
		raw = recorded(rp.t, name)
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		rp.t.Error(err)
		return
	}
	defer conn.Close()
	buf.Write(raw)
	buf.Flush()
}

// contentLength matches a recorded Content-Length header.
var contentLength = regexp.MustCompile(`(?mi)^Content-Length: \d+$`)

// recorded is a fixture's status line, headers and body. The recording's
// traceback paths were rewritten to /opt/odoo after it was made, so the
// Content-Length of a traceback body is stale: it is set to the body's
// length, everything else is sent as recorded.
func recorded(t *testing.T, name string) []byte {
	body := fixture(t, name)
	head := fixture(t, strings.TrimSuffix(name, filepath.Ext(name))+".headers")
	head = contentLength.ReplaceAll(head, fmt.Appendf(nil, "Content-Length: %d", len(body)))
	return append(head, body...)
}

func (rp *replay) hitsOf(path string) int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.hits[path]
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "odoo", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func replayConfig(url, transport string) odoo.Config {
	return odoo.Config{URL: url, Database: "hubtest", Login: "admin", Password: config.NewSecret("recorded-secret"), Transport: transport}
}

func TestRecordedFaultsDecodeToTypedFaults(t *testing.T) {
	const common, object = "/xmlrpc/2/common", "/xmlrpc/2/object"
	ctx := context.Background()
	write := func(c *odoo.Client) error {
		return c.Write(ctx, "res.partner", []int64{99999999}, map[string]any{"name": "x"})
	}
	cases := []struct {
		fixture    string
		transport  string
		code       int
		status     int
		class      string
		message    string
		is         func(error) bool
		authCalls  int // a denial re-authenticates once
		retryCalls int
	}{
		{"xmlrpc/fault1-unknown-field.xml", "xmlrpc", 1, 0, "ValueError", "ValueError: Invalid field 'no_such_field' in 'res.partner'", nil, 1, 1},
		{"xmlrpc/fault1-unknown-method.xml", "xmlrpc", 1, 0, "AttributeError", "AttributeError: The method 'res.partner.no_such_method' does not exist", nil, 1, 1},
		{"xmlrpc/fault2-missing-record.xml", "xmlrpc", 2, 0, "", "Record does not exist or has been deleted.\n(Record: res.partner(99999999,), User: 2)", odoo.IsMissingRecord, 1, 1},
		{"xmlrpc/fault2-unknown-model.xml", "xmlrpc", 2, 0, "", "Object no.such.model doesn't exist", odoo.IsUnknownModel, 1, 1},
		{"xmlrpc/fault3-access-denied.xml", "xmlrpc", 3, 0, "odoo.exceptions.AccessDenied", "Access Denied", odoo.IsAccessDenied, 2, 2},
		{"xmlrpc/fault4-access-error.xml", "xmlrpc", 4, 0, "", "You are not allowed to access 'System Parameter' (ir.config_parameter) records.\n\nThis operation is allowed for the following groups:\n\t- Role / Administrator\n\nContact your administrator to request access if necessary.", odoo.IsAccessError, 1, 1},
		{"json2/unknown-field.json", "json2", 0, 500, "builtins.ValueError", "Invalid field 'no_such_field' in 'res.partner'", nil, 1, 1},
		{"json2/missing-record.json", "json2", 0, 404, "odoo.exceptions.MissingError", "Record does not exist or has been deleted.\n(Record: res.partner(99999999,), User: 2)", odoo.IsMissingRecord, 1, 1},
		{"json2/unknown-model.json", "json2", 0, 404, "werkzeug.exceptions.NotFound", "the model 'no.such.model' does not exist", odoo.IsUnknownModel, 1, 1},
		{"json2/bad-key.json", "json2", 0, 401, "werkzeug.exceptions.Unauthorized", "Invalid apikey", odoo.IsAccessDenied, 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			routes := map[string]string{common: "xmlrpc/ok-authenticate.xml", object: tc.fixture,
				"/json/2/res.users/context_get": contextGet, "/json/2/res.partner/write": tc.fixture}
			rp, url := newReplay(t, routes)
			c := newClient(t, replayConfig(url, tc.transport))
			err := write(c)
			f := mustFault(t, err, false)
			if f.Code != tc.code || f.HTTPStatus != tc.status || f.Name != tc.class || f.Message != tc.message {
				t.Errorf("fault = code %d status %d name %q message %q", f.Code, f.HTTPStatus, f.Name, f.Message)
			}
			if f.Model != "res.partner" || f.Method != "write" || f.Detail == "" {
				t.Errorf("fault call = %s.%s, detail %d bytes", f.Model, f.Method, len(f.Detail))
			}
			if tc.is != nil && !tc.is(err) {
				t.Errorf("helper does not recognize %v", err)
			}
			auth, calls := rp.hitsOf(common), rp.hitsOf(object)
			if tc.transport == "json2" {
				auth, calls = rp.hitsOf("/json/2/res.users/context_get"), rp.hitsOf("/json/2/res.partner/write")
			}
			if auth != tc.authCalls || calls != tc.retryCalls {
				t.Errorf("authenticated %d times and called %d times, want %d and %d", auth, calls, tc.authCalls, tc.retryCalls)
			}
		})
	}
}

func TestRecordedBadPasswordIsRejectedCredentials(t *testing.T) {
	_, url := newReplay(t, map[string]string{"/xmlrpc/2/common": "xmlrpc/authenticate-bad-password.xml"})
	c := newClient(t, replayConfig(url, "xmlrpc"))
	_, err := c.Authenticate(context.Background())
	f := mustFault(t, err, false)
	if !odoo.IsAccessDenied(err) || !strings.Contains(f.Message, "credentials were rejected") {
		t.Errorf("err = %v", err)
	}
}

func TestRecordedAnswersDecode(t *testing.T) {
	ctx := context.Background()
	t.Run("xmlrpc", func(t *testing.T) {
		routes := map[string]string{"/xmlrpc/2/common": "xmlrpc/ok-version.xml", "/xmlrpc/2/object": "xmlrpc/ok-search-read.xml"}
		rp, url := newReplay(t, routes)
		c := newClient(t, replayConfig(url, "xmlrpc"))
		v, err := c.Version(ctx)
		if err != nil || v.ServerVersion != "19.0" || v.ProtocolVersion != 1 || v.Major() != 19 ||
			!slices.Equal(v.ServerVersionInfo, []any{int64(19), int64(0), int64(0), "final", int64(0), ""}) {
			t.Fatalf("version = %#v, %v", v, err)
		}
		rp.routes["/xmlrpc/2/common"] = "xmlrpc/ok-authenticate.xml"
		recs, err := c.SearchRead(ctx, "res.partner", nil, nil, odoo.SearchOptions{})
		if err != nil || len(recs) != 1 {
			t.Fatalf("search_read = %v, %v", recs, err)
		}
		checkFixtureCo(t, recs[0])
		if !recs[0].Bool("is_company") {
			t.Error("is_company")
		}
		for fixture, want := range map[string][]int64{"xmlrpc/ok-create-one.xml": {6050}, "xmlrpc/ok-create-list.xml": {6051, 6052}} {
			rp.routes["/xmlrpc/2/object"] = fixture
			ids, err := c.Create(ctx, "res.partner", []map[string]any{{"name": "a"}})
			if err != nil || !slices.Equal(ids, want) {
				t.Errorf("%s: ids = %v, %v", fixture, ids, err)
			}
		}
	})
	t.Run("json2", func(t *testing.T) {
		routes := map[string]string{"/json/2/res.users/context_get": contextGet,
			"/json/2/res.partner/search_read": "json2/ok-search-read.json", "/json/2/res.partner/create": "json2/ok-create.json"}
		_, url := newReplay(t, routes)
		c := newClient(t, replayConfig(url, "json2"))
		recs, err := c.SearchRead(ctx, "res.partner", nil, nil, odoo.SearchOptions{})
		if err != nil || len(recs) != 1 {
			t.Fatalf("search_read = %v, %v", recs, err)
		}
		checkFixtureCo(t, recs[0])
		if ids, err := c.Create(ctx, "res.partner", []map[string]any{{"name": "a"}}); err != nil || !slices.Equal(ids, []int64{6053}) {
			t.Errorf("create = %v, %v", ids, err)
		}
		if id, err := c.CreateOne(ctx, "res.partner", map[string]any{"name": "a"}); err != nil || id != 6053 {
			t.Errorf("create one = %v, %v", id, err)
		}
	})
}

// checkFixtureCo checks the recorded "Fixture Co" record decoded the same
// over both transports.
func checkFixtureCo(t *testing.T, r odoo.Record) {
	t.Helper()
	if r["id"] != int64(6050) || r.String("name") != "Fixture Co" || r["parent_id"] != false || r["phone"] != false {
		t.Errorf("record = %#v", r)
	}
	if _, _, ok := r.Many2One("parent_id"); ok {
		t.Error("an empty many2one reads as set")
	}
	if ids, ok := r["category_id"].([]any); !ok || len(ids) != 0 {
		t.Errorf("category_id = %#v", r["category_id"])
	}
	if ts, ok := r.Time("write_date"); !ok || odoo.FormatTime(ts) != "2026-11-22 05:21:36" {
		t.Errorf("write_date = %v", r["write_date"])
	}
}
