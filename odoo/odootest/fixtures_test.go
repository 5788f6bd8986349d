package odootest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kolo/xmlrpc"
)

const fixtures = "../testdata/odoo"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureHeader reads one header of a recorded *.headers file.
func fixtureHeader(t *testing.T, name, key string) string {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(readFixture(t, name))), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Get(key)
}

func post(t *testing.T, url, contentType string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func xmlrpcCall(t *testing.T, s *Server, service, method string, params ...any) (*http.Response, []byte) {
	t.Helper()
	body, err := xmlrpc.EncodeMethodCall(method, params...)
	if err != nil {
		t.Fatal(err)
	}
	return post(t, s.URL+"/xmlrpc/2/"+service, "text/xml", nil, body)
}

func fixedClock(ts string) func() time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999999", ts)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t }
}

func insert(t *testing.T, s *Server, model string, vals map[string]any) int64 {
	t.Helper()
	id, err := s.Insert(model, vals)
	if err != nil {
		t.Fatalf("insert %s: %v", model, err)
	}
	return id
}

// xmlrpcCase is one recorded XML-RPC exchange: the state, the call, and
// the fixture that holds Odoo's answer (by name).
type xmlrpcCase struct {
	name    string
	setup   func(*Server)
	service string
	method  string
	params  func() []any
}

func recordedXMLRPCCases(t *testing.T) []xmlrpcCase {
	fixtureCo := map[string]any{"id": 6050, "name": "Fixture Co", "is_company": true}
	admin := []any{DefaultDatabase, AdminUID, AdminPassword}
	var demo int64
	return []xmlrpcCase{
		{"ok-version", nil, "common", "version", func() []any { return nil }},
		{"ok-authenticate", nil, "common", "authenticate", func() []any { return []any{DefaultDatabase, AdminLogin, AdminPassword, map[string]any{}} }},
		{"authenticate-bad-password", nil, "common", "authenticate", func() []any { return []any{DefaultDatabase, AdminLogin, "wrong", map[string]any{}} }},
		{"ok-create-one", func(s *Server) { insert(t, s, "res.partner", map[string]any{"id": 6049, "name": "Before"}) },
			"object", "execute_kw", func() []any {
				return append(admin, "res.partner", "create", []any{map[string]any{"name": "Fixture Co"}})
			}},
		{"ok-create-list", func(s *Server) { insert(t, s, "res.partner", fixtureCo) },
			"object", "execute_kw", func() []any {
				return append(admin, "res.partner", "create", []any{[]any{map[string]any{"name": "A"}, map[string]any{"name": "B"}}})
			}},
		{"ok-search-read", func(s *Server) { insert(t, s, "res.partner", fixtureCo) },
			"object", "execute_kw", func() []any {
				return append(admin, "res.partner", "search_read", []any{[]any{[]any{"id", "=", 6050}}},
					map[string]any{"fields": []any{"name", "parent_id", "phone", "category_id", "write_date", "is_company"}})
			}},
		{"fault2-missing-record", nil, "object", "execute_kw", func() []any {
			return append(admin, "res.partner", "write", []any{[]any{99999999}, map[string]any{"name": "x"}})
		}},
		{"fault2-unknown-model", nil, "object", "execute_kw", func() []any { return append(admin, "no.such.model", "search", []any{[]any{}}) }},
		{"fault3-access-denied", nil, "object", "execute_kw", func() []any {
			return []any{DefaultDatabase, AdminUID, "wrong", "res.partner", "search", []any{[]any{}}}
		}},
		{"fault4-access-error", func(s *Server) {
			s.AddModel(Model{Name: "ir.config_parameter", Description: "System Parameter", Fields: map[string]Field{"key": {Type: Char}}})
			uid, err := s.AddUser(User{Login: "demo", Password: "demo", DeniedModels: []string{"ir.config_parameter"}})
			if err != nil {
				t.Fatal(err)
			}
			demo = uid
		}, "object", "execute_kw", func() []any {
			return []any{DefaultDatabase, demo, "demo", "ir.config_parameter", "search_read", []any{[]any{}}}
		}},
	}
}

func TestXMLRPCAnswersAreTheRecordedBytes(t *testing.T) {
	for _, tc := range recordedXMLRPCCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t, WithClock(fixedClock("2026-11-22 05:21:36")))
			if tc.setup != nil {
				tc.setup(s)
			}
			resp, body := xmlrpcCall(t, s, tc.service, tc.method, tc.params()...)
			if want := readFixture(t, "xmlrpc/"+tc.name+".xml"); !bytes.Equal(body, want) {
				t.Fatalf("body differs from the recording\n got: %q\nwant: %q", body, want)
			}
			for _, h := range []string{"Content-Type", "Connection", "X-Content-Type-Options", "Content-Length"} {
				if got, want := resp.Header.Get(h), fixtureHeader(t, "xmlrpc/"+tc.name+".headers", h); got != want {
					t.Errorf("%s = %q, recorded %q", h, got, want)
				}
			}
			if !resp.Close {
				t.Error("the connection was kept alive; Odoo closes it after every XML-RPC answer")
			}
		})
	}
}

// faultStringRe finds the faultString of a fault body.
var faultStringRe = regexp.MustCompile(`(?s)<name>faultString</name>\n<value><string>(.*)</string></value>`)

func TestXMLRPCTracebackFaultsEndLikeTheRecording(t *testing.T) {
	admin := []any{DefaultDatabase, AdminUID, AdminPassword}
	cases := []struct {
		name   string
		params []any
	}{
		{"fault1-unknown-field", append(admin, "res.partner", "create", []any{map[string]any{"name": "x", "no_such_field": 1}})},
		{"fault1-unknown-method", append(admin, "res.partner", "no_such_method", []any{})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			_, body := xmlrpcCall(t, s, "object", "execute_kw", tc.params...)
			want := readFixture(t, "xmlrpc/"+tc.name+".xml")
			got, rec := faultStringRe.FindSubmatch(body), faultStringRe.FindSubmatch(want)
			if got == nil || rec == nil {
				t.Fatalf("no faultString in\n%s", body)
			}
			if !bytes.Equal(faultStringRe.ReplaceAll(body, nil), faultStringRe.ReplaceAll(want, nil)) {
				t.Errorf("fault envelope differs:\n%s", body)
			}
			if !bytes.HasPrefix(got[1], []byte("Traceback (most recent call last):\n")) || !bytes.HasSuffix(got[1], []byte("\n")) {
				t.Errorf("faultString is not a traceback: %q", got[1])
			}
			if g, w := lastLine(string(got[1])), lastLine(string(rec[1])); g != w {
				t.Errorf("last line = %q, recorded %q", g, w)
			}
		})
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func json2Call(t *testing.T, s *Server, model, method, key string, body string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{"Authorization": {"bearer " + key}, "X-Odoo-Database": {s.Database}}
	return post(t, s.URL+"/json/2/"+model+"/"+method, "application/json; charset=utf-8", h, []byte(body))
}

func TestJSON2AnswersMatchTheRecording(t *testing.T) {
	cases := []struct {
		name, model, method, key, body string
		exact                          bool // byte for byte; else the error body's fields
	}{
		{"ok-create", "res.partner", "create", AdminAPIKey, `{"vals_list": [{"name": "Fixture Co"}]}`, true},
		{"ok-search-read", "res.partner", "search_read", AdminAPIKey,
			`{"domain": [["id", "=", 6050]], "fields": ["name", "parent_id", "phone", "category_id", "write_date"]}`, true},
		{"unknown-field", "res.partner", "create", AdminAPIKey, `{"vals_list": [{"name": "x", "no_such_field": 1}]}`, false},
		{"missing-record", "res.partner", "write", AdminAPIKey, `{"ids": [99999999], "vals": {"name": "x"}}`, false},
		{"unknown-model", "no.such.model", "search", AdminAPIKey, `{"domain": []}`, false},
		{"bad-key", "res.partner", "search", "not-a-key", `{"domain": []}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t, WithClock(fixedClock("2026-11-22 05:21:36")))
			insert(t, s, "res.partner", map[string]any{"id": 6050, "name": "Fixture Co", "is_company": true})
			insert(t, s, "res.partner", map[string]any{"id": 6052, "name": "Before"})
			resp, body := json2Call(t, s, tc.model, tc.method, tc.key, tc.body)
			want := readFixture(t, "json2/"+tc.name+".json")
			headers := "json2/" + tc.name + ".headers"
			if got, rec := resp.Header.Get("Content-Type"), fixtureHeader(t, headers, "Content-Type"); got != rec {
				t.Errorf("Content-Type = %q, recorded %q", got, rec)
			}
			if rec := fixtureHeader(t, headers, "WWW-Authenticate"); !strings.EqualFold(strings.TrimSpace(resp.Header.Get("WWW-Authenticate")), strings.TrimSpace(rec)) {
				t.Errorf("WWW-Authenticate = %q, recorded %q", resp.Header.Get("WWW-Authenticate"), rec)
			}
			rec, _ := http.ReadResponse(bufio.NewReader(bytes.NewReader(readFixture(t, headers))), nil)
			if resp.StatusCode != rec.StatusCode {
				t.Errorf("status = %d, recorded %d", resp.StatusCode, rec.StatusCode)
			}
			if tc.exact {
				if !bytes.Equal(body, want) {
					t.Fatalf("body = %s, recorded %s", body, want)
				}
				return
			}
			compareErrorBodies(t, body, want)
		})
	}
}

func compareErrorBodies(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "message", "arguments", "context"} {
		gj, _ := json.Marshal(g[k])
		wj, _ := json.Marshal(w[k])
		if !bytes.Equal(gj, wj) {
			t.Errorf("%s = %s, recorded %s", k, gj, wj)
		}
	}
	if gl, wl := lastLine(g["debug"].(string)), lastLine(w["debug"].(string)); gl != wl {
		t.Errorf("debug ends %q, recorded %q", gl, wl)
	}
	order := regexp.MustCompile(`^\{"name": .*, "message": .*, "arguments": .*, "context": \{\}, "debug": ".*"\}$`)
	if !order.Match(got) {
		t.Errorf("keys or separators differ from Odoo's: %s", got)
	}
}
