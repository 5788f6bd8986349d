package odootest

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// versionInfo is what the recorded Odoo 19 answers to common.version.
var versionInfo = omap{
	{"server_version", "19.0"},
	{"server_version_info", []any{int64(19), int64(0), int64(0), "final", int64(0), ""}},
	{"server_serie", "19.0"},
	{"protocol_version", int64(1)},
}

// serveXMLRPC answers /xmlrpc/2/common and /xmlrpc/2/object as Odoo 19
// does: HTTP 200 with a fault for every error, Connection: close.
func (s *Server) serveXMLRPC(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	parsing := time.Now()
	method, params, err := parseMethodCall(body)
	parsed := time.Since(parsing) // Odoo parses in the worker that serves the call: part of its cost
	if err != nil {
		writeXMLRPC(w, xmlrpcFault(1, traceback(xmlrpcFrames, &odooError{class: "xml.parsers.expat.ExpatError", message: err.Error()})), false)
		return
	}
	service := r.PathValue("service")
	model, ormMethod := "", method
	if service == "object" && method == "execute_kw" && len(params) >= 5 {
		model, _ = params[3].(string)
		ormMethod, _ = params[4].(string)
	}
	fail, lat, ok := s.begin(r.Context(), model, ormMethod)
	if !ok {
		return
	}
	began := time.Now().Add(-parsed)
	ended := false
	defer func() {
		if !ended {
			s.end(lat, model, ormMethod, 0)
		}
	}()
	if fail != nil && s.injectHTTP(w, r, *fail) {
		return
	}
	var result any
	var n int
	var oerr *odooError
	switch {
	case fail != nil && fail.Kind == FailFault:
		s.spend(r.Context(), began, lat.PerCall)
		s.end(lat, model, ormMethod, 0)
		ended = true
		writeXMLRPC(w, xmlrpcFault(fail.Code, fail.String), false)
		return
	case fail != nil && fail.Kind == FailSerialization:
		oerr = serializationFailure()
	case service == "common":
		result, oerr = s.common(method, params)
	case service == "object" && method == "execute_kw":
		result, n, oerr = s.executeKW(params)
	default:
		oerr = &odooError{class: "KeyError", message: pyRepr(method)}
	}
	s.spend(r.Context(), began, lat.of(ormMethod, n))
	s.end(lat, model, ormMethod, n)
	ended = true
	if oerr != nil {
		writeXMLRPC(w, xmlrpcFault(oerr.xmlrpcFault()), false)
		return
	}
	writeXMLRPC(w, xmlrpcResponse(result), true)
}

func writeXMLRPC(w http.ResponseWriter, body []byte, ok bool) {
	h := w.Header()
	h.Set("Server", "Werkzeug/2.2.2 Python/3.11.2")
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if ok {
		h.Set("X-Content-Type-Options", "nosniff")
	}
	h.Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// common answers the common service: version and authenticate.
func (s *Server) common(method string, params []any) (any, *odooError) {
	switch method {
	case "version":
		return versionInfo, nil
	case "authenticate", "login":
		if len(params) < 3 {
			return nil, typeError("authenticate() missing required positional arguments")
		}
		db, _ := params[0].(string)
		login, _ := params[1].(string)
		secret, _ := params[2].(string)
		s.mu.Lock()
		defer s.mu.Unlock()
		if db != s.Database {
			return nil, unknownDatabase(db)
		}
		if s.dbDown {
			return nil, databaseDown()
		}
		if uid := s.check(login, 0, secret); uid != 0 {
			return uid, nil
		}
		return false, nil // Odoo answers false, not a fault
	}
	return nil, &odooError{class: "KeyError", message: pyRepr(method)}
}

// executeKW checks execute_kw(db, uid, password, model, method, args,
// kwargs) credentials and runs the call.
func (s *Server) executeKW(params []any) (any, int, *odooError) {
	if len(params) < 6 {
		return nil, 0, typeError("execute_kw() missing required positional arguments")
	}
	db, _ := params[0].(string)
	uid, _ := asID(params[1])
	secret, _ := params[2].(string)
	model, _ := params[3].(string)
	method, _ := params[4].(string)
	args, _ := params[5].([]any)
	var kw map[string]any
	if len(params) > 6 {
		kw, _ = params[6].(map[string]any)
	}
	s.mu.Lock()
	badDB, denied := db != s.Database, s.check("", uid, secret) == 0
	s.mu.Unlock()
	switch {
	case badDB:
		return nil, 0, unknownDatabase(db)
	case denied:
		return nil, 0, &odooError{class: clsAccessDenied, message: "Access Denied"}
	}
	req, err := fromPositional(uid, model, method, args, kw)
	if err != nil {
		return nil, 0, err
	}
	return s.run(req)
}
