package odoo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
)

func TestFaultClassification(t *testing.T) {
	tb := func(last string) string {
		return "Traceback (most recent call last):\n  File \"/opt/odoo/odoo/service/model.py\", line 184, in retrying\n    result = func()\n" + last + "\n"
	}
	cases := []struct {
		name      string
		fault     *Fault
		transient bool
		class     string
	}{
		{"code 1 ValueError", rpcFault(1, tb("ValueError: Invalid field 'x' in 'res.partner'")), false, "ValueError"},
		{"code 1 KeyError", rpcFault(1, tb("KeyError: 'no_such_field'")), false, "KeyError"},
		{"code 1 AttributeError", rpcFault(1, tb("AttributeError: The method 'a.b' does not exist")), false, "AttributeError"},
		{"code 1 TypeError", rpcFault(1, tb("TypeError: write() takes 2 positional arguments but 3 were given")), false, "TypeError"},
		{"code 1 serialization", rpcFault(1, tb("psycopg2.errors.SerializationFailure: could not serialize access due to concurrent update")), true, "psycopg2.errors.SerializationFailure"},
		{"code 1 rollback", rpcFault(1, tb("psycopg2.extensions.TransactionRollbackError: could not serialize access due to concurrent update")), true, "psycopg2.extensions.TransactionRollbackError"},
		{"code 1 lock", rpcFault(1, tb("psycopg2.errors.LockNotAvailable: could not obtain lock on row in relation \"res_partner\"")), true, "psycopg2.errors.LockNotAvailable"},
		{"code 1 deadlock", rpcFault(1, tb("psycopg2.errors.DeadlockDetected: deadlock detected")), true, "psycopg2.errors.DeadlockDetected"},
		{"code 1 database down", rpcFault(1, tb("psycopg2.OperationalError: connection to server at \"db\" failed: Connection refused")), true, "psycopg2.OperationalError"},
		{"code 1 unknown database", rpcFault(1, tb("psycopg2.OperationalError: connection to server failed: FATAL:  database \"nope\" does not exist")), false, "psycopg2.OperationalError"},
		{"code 2", rpcFault(2, "You cannot create recursive Partner hierarchies."), false, ""},
		{"code 3", rpcFault(3, "Access Denied"), false, nameAccessDenied},
		{"code 4", rpcFault(4, "You are not allowed to access 'System Parameter' (ir.config_parameter) records."), false, ""},
		{"json2 400", httpFault(400, "werkzeug.exceptions.BadRequest", "bad", "", 0), false, "werkzeug.exceptions.BadRequest"},
		{"json2 401", httpFault(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey", "", 0), false, "werkzeug.exceptions.Unauthorized"},
		{"json2 403", httpFault(403, "odoo.exceptions.AccessError", "no", "", 0), false, "odoo.exceptions.AccessError"},
		{"json2 404", httpFault(404, "odoo.exceptions.MissingError", "gone", "", 0), false, "odoo.exceptions.MissingError"},
		{"json2 422", httpFault(422, "odoo.exceptions.ValidationError", "bad", "", 0), false, "odoo.exceptions.ValidationError"},
		{"json2 500 ValueError", httpFault(500, "builtins.ValueError", "Invalid field", "", 0), false, "builtins.ValueError"},
		{"json2 500 serialization", httpFault(500, "psycopg2.errors.SerializationFailure", "could not serialize access due to concurrent update", "", 0), true, "psycopg2.errors.SerializationFailure"},
		{"json2 500 concurrency", httpFault(500, "odoo.exceptions.ConcurrencyError", "retry", "", 0), true, "odoo.exceptions.ConcurrencyError"},
		{"http 500 not Odoo's", httpFault(500, "", "Internal Server Error", "<html>", 0), true, ""},
		{"http 502", httpFault(502, "", "Bad Gateway", "", 0), true, ""},
		{"http 503", httpFault(503, "", "Service Unavailable", "", 0), true, ""},
		{"http 504", httpFault(504, "", "Gateway Timeout", "", 0), true, ""},
		{"http 429", httpFault(429, "", "Too Many Requests", "", 0), true, ""},
		{"http 413", httpFault(413, "", "Request Entity Too Large", "", 0), false, ""},
		{"refused", netFault(&url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}), true, ""},
		{"reset", netFault(&url.Error{Op: "Post", URL: "http://x", Err: syscall.ECONNRESET}), true, ""},
		{"eof", netFault(&url.Error{Op: "Post", URL: "http://x", Err: io.EOF}), true, ""},
		{"deadline", netFault(&url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}), true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault.Transient() != tc.transient {
				t.Errorf("Transient() = %v, want %v (%v)", tc.fault.Transient(), tc.transient, tc.fault)
			}
			if tc.fault.Name != tc.class {
				t.Errorf("Name = %q, want %q", tc.fault.Name, tc.class)
			}
		})
	}
}

func TestFaultErrorIsOneReadableLine(t *testing.T) {
	f := rpcFault(2, "Record does not exist or has been deleted.\n(Record: res.partner(99999999,), User: 2)")
	f.Model, f.Method = "res.partner", "write"
	if got, want := f.Error(), "odoo res.partner.write: fault 2: Record does not exist or has been deleted. (Record: res.partner(99999999,), User: 2)"; got != want {
		t.Errorf("Error() = %q\nwant      %q", got, want)
	}
	f = rpcFault(1, "Traceback (most recent call last):\nKeyError: 'no_such_field'\n")
	f.Model, f.Method = "res.partner", "read"
	if got, want := f.Error(), "odoo res.partner.read: fault 1: KeyError: 'no_such_field'"; got != want {
		t.Errorf("Error() = %q", got)
	}
	f = httpFault(404, "odoo.exceptions.MissingError", "Record does not exist", "", 0)
	if got, want := f.Error(), "odoo: HTTP 404: odoo.exceptions.MissingError: Record does not exist"; got != want {
		t.Errorf("Error() = %q", got)
	}
	refused := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	f = netFault(refused)
	if got := f.Error(); got != "odoo: connection refused: dial: connection refused" {
		t.Errorf("Error() = %q", got)
	}
}

func TestJSON2NamesPositionalArguments(t *testing.T) {
	cases := []struct {
		name   string
		c      call
		body   string
		single bool
	}{
		{"create list", call{method: "create", args: []any{[]map[string]any{{"name": "a"}}}}, `{"vals_list":[{"name":"a"}]}`, false},
		{"create one", call{method: "create", args: []any{map[string]any{"name": "a"}}}, `{"vals_list":[{"name":"a"}]}`, true},
		{"write", call{method: "write", args: []any{[]int64{1, 2}, map[string]any{"name": "b"}}}, `{"ids":[1,2],"vals":{"name":"b"}}`, false},
		{"unlink", call{method: "unlink", args: []any{[]int64{3}}}, `{"ids":[3]}`, false},
		{"read one id", call{method: "read", args: []any{int64(3), []string{"name"}}}, `{"fields":["name"],"ids":[3]}`, false},
		{"search with kwargs", call{method: "search", args: []any{[]any{}}, kwargs: map[string]any{"limit": 5}}, `{"domain":[],"limit":5}`, false},
		{"search_read positional", call{method: "search_read", args: []any{[]any{}, []string{"name"}, 0, 10, "id"}}, `{"domain":[],"fields":["name"],"limit":10,"offset":0,"order":"id"}`, false},
		{"unknown record method", call{method: "action_done", args: []any{[]any{int64(4)}}, kwargs: map[string]any{"context": map[string]any{"lang": "fr_FR"}}}, `{"context":{"lang":"fr_FR"},"ids":[4]}`, false},
		{"load", call{method: "load", args: []any{[]string{"id", "name"}, []any{[]any{"x", "y"}}}}, `{"data":[["x","y"]],"fields":["id","name"]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, single, err := json2Body(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(body)
			if string(b) != tc.body || single != tc.single {
				t.Errorf("body = %s single %v, want %s %v", b, single, tc.body, tc.single)
			}
		})
	}
	if _, _, err := json2Body(call{method: "action_x", args: []any{[]any{int64(1)}, "extra"}}); err == nil {
		t.Error("an unmappable positional argument was accepted")
	}
}
