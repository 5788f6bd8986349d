package odootest

import (
	"fmt"
	"strings"
)

// odooError is an exception raised inside the fake's ORM. Each transport
// renders it the way Odoo 19 does: an XML-RPC fault code and string, or a
// JSON-2 status and {name, message, arguments, context, debug} body.
type odooError struct {
	class   string // Python class: "ValueError", "odoo.exceptions.MissingError", ...
	message string
	raise   string // the source line that raised it, for the traceback
	model   string // set for an unknown model, which both transports special-case
	method  string // set for an unknown method
}

const (
	clsValue         = "ValueError"
	clsAttribute     = "AttributeError"
	clsMissing       = "odoo.exceptions.MissingError"
	clsValidation    = "odoo.exceptions.ValidationError"
	clsUser          = "odoo.exceptions.UserError"
	clsAccess        = "odoo.exceptions.AccessError"
	clsAccessDenied  = "odoo.exceptions.AccessDenied"
	clsSerialization = "psycopg2.errors.SerializationFailure"
	clsOperational   = "psycopg2.OperationalError"
	clsNotFound      = "werkzeug.exceptions.NotFound"
	clsUnauthorized  = "werkzeug.exceptions.Unauthorized"
	clsBadRequest    = "werkzeug.exceptions.BadRequest"
	clsUnprocessable = "werkzeug.exceptions.UnprocessableEntity"
)

func valueError(format string, args ...any) *odooError {
	msg := fmt.Sprintf(format, args...)
	return &odooError{class: clsValue, message: msg, raise: "raise ValueError(msg)"}
}

func missingError(model string, ids []int64, uid int64) *odooError {
	return &odooError{class: clsMissing, raise: `raise MissingError("\n".join([`, message: fmt.Sprintf(
		"Record does not exist or has been deleted.\n(Record: %s%s, User: %d)", model, pyTuple(ids), uid)}
}

func validationError(msg string) *odooError {
	return &odooError{class: clsValidation, message: msg, raise: "raise ValidationError(msg)"}
}

func unknownModel(model string) *odooError {
	return &odooError{class: clsNotFound, model: model, message: fmt.Sprintf("Object %s doesn't exist", model)}
}

func unknownMethod(model, method string) *odooError {
	return &odooError{class: clsAttribute, method: method, raise: `raise AttributeError(f"The method '{model._name}.{name}' does not exist")  # noqa: TRY004`,
		message: fmt.Sprintf("The method '%s.%s' does not exist", model, method)}
}

func accessError(m *Model) *odooError {
	return &odooError{class: clsAccess, raise: "raise AccessError(msg)", message: fmt.Sprintf(
		"You are not allowed to access '%s' (%s) records.\n\nThis operation is allowed for the following groups:\n"+
			"\t- Role / Administrator\n\nContact your administrator to request access if necessary.", m.description(), m.Name)}
}

func serializationFailure() *odooError {
	return &odooError{class: clsSerialization, raise: "cursor.execute(query, params)",
		message: "could not serialize access due to concurrent update"}
}

func databaseDown() *odooError {
	return &odooError{class: clsOperational, raise: "return psycopg2.connect(**connection_info)",
		message: "connection to server at \"localhost\" (127.0.0.1), port 5432 failed: Connection refused\n" +
			"\tIs the server running on that host and accepting TCP/IP connections?"}
}

func unknownDatabase(db string) *odooError {
	return &odooError{class: clsOperational, raise: "return psycopg2.connect(**connection_info)",
		message: fmt.Sprintf("connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: FATAL:  database %q does not exist", db)}
}

// xmlrpcFault renders e as Odoo 19's rpc module does.
func (e *odooError) xmlrpcFault() (code int, faultString string) {
	switch {
	case e.model != "":
		return 2, e.message
	case e.class == clsAccessDenied:
		return 3, "Access Denied"
	case e.class == clsAccess:
		return 4, e.message
	case strings.HasPrefix(e.class, "odoo.exceptions."):
		return 2, e.message
	}
	return 1, traceback(xmlrpcFrames, e)
}

// json2Error renders e as Odoo 19's JSON-2 controller does.
func (e *odooError) json2Error() (status int, body omap) {
	name, msg, status := e.class, e.message, 500
	args := []any{msg}
	switch {
	case e.model != "":
		name, msg, status = clsNotFound, fmt.Sprintf("the model '%s' does not exist", e.model), 404
		args = []any{msg, int64(404)}
	case e.method != "":
		name, status = clsNotFound, 404
		args = []any{msg, int64(404)}
	case e.class == clsUnprocessable:
		status, args = 422, []any{msg, int64(422)}
	case e.class == clsAccessDenied, e.class == clsUnauthorized:
		name, msg, status = clsUnauthorized, "Invalid apikey", 401
		args = []any{msg, int64(401)}
	case e.class == clsNotFound:
		status, args = 404, []any{msg, int64(404)}
	case e.class == clsBadRequest:
		status, args = 400, []any{msg, int64(400)}
	case e.class == clsMissing:
		status = 404
	case e.class == clsAccess:
		status = 403
	case strings.HasPrefix(e.class, "odoo.exceptions."):
		status = 422
	case !strings.Contains(e.class, "."):
		name = "builtins." + e.class
	}
	shown := &odooError{class: e.class, message: e.message, raise: e.raise}
	if strings.HasPrefix(name, "werkzeug.") {
		shown = &odooError{class: name, message: fmt.Sprintf("%d %s: %s", status, statusWords[status], msg), raise: "raise " + name[strings.LastIndexByte(name, '.')+1:] + "(e)"}
	}
	return status, omap{{"name", name}, {"message", msg}, {"arguments", args}, {"context", omap{}}, {"debug", traceback(json2Frames, shown)}}
}

var statusWords = map[int]string{400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 422: "Unprocessable Entity"}

// The first frames of a real Odoo 19 traceback, as the fixtures show them.
const xmlrpcFrames = `  File "/opt/odoo/addons/rpc/controllers/xmlrpc.py", line 162, in xmlrpc_2
    response = self._xmlrpc(service)
               ^^^^^^^^^^^^^^^^^^^^^
  File "/opt/odoo/addons/rpc/controllers/xmlrpc.py", line 134, in _xmlrpc
    result = dispatch_rpc(service, method, params)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/odoo/odoo/http.py", line 439, in dispatch_rpc
    return dispatch(method, params)
           ^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/odoo/odoo/service/model.py", line 129, in dispatch
    res = execute_cr(cr, uid, model, method_, args, kw)
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/odoo/odoo/service/model.py", line 146, in execute_cr
    result = retrying(partial(call_kw, recs, method, args, kw), env)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/odoo/odoo/service/model.py", line 184, in retrying
    result = func()
             ^^^^^^
  File "/opt/odoo/odoo/service/model.py", line 93, in call_kw
    result = method(recs, *args, **kwargs)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
`

const json2Frames = `  File "/opt/odoo/odoo/http.py", line 2273, in _serve_db
    return service_model.retrying(serve_func, env=self.env)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/odoo/odoo/service/model.py", line 184, in retrying
    result = func()
             ^^^^^^
  File "/opt/odoo/odoo/http.py", line 2328, in _serve_ir_http
    response = self.dispatcher.dispatch(rule.endpoint, args)
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/odoo/addons/rpc/controllers/json2.py", line 86, in web_json_2_rpc
    result = func(records, **kwargs)
             ^^^^^^^^^^^^^^^^^^^^^^^
`

// traceback is a Python traceback ending in the exception line, as Odoo
// puts in a code-1 faultString and in JSON-2's "debug".
func traceback(frames string, e *odooError) string {
	raise := e.raise
	if raise == "" {
		raise = "raise"
	}
	return "Traceback (most recent call last):\n" + frames +
		"  File \"/opt/odoo/odoo/orm/models.py\", line 4654, in fake\n    " + raise + "\n" +
		e.class + ": " + e.message + "\n"
}

// pyTuple is Python's repr of a tuple of ids: (7,) or (7, 8).
func pyTuple(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	if len(ids) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// pyRepr is Python's repr of a value as Odoo quotes it in messages.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		if strings.Contains(x, "'") && !strings.Contains(x, `"`) {
			return `"` + x + `"`
		}
		return "'" + strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), "'", `\'`) + "'"
	case float64:
		return pyFloat(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}
