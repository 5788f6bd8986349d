package odootest

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serveJSON2 answers POST /json/2/<model>/<method> as Odoo 19 does: the
// bare result, or a real status with {name, message, arguments, context,
// debug}.
func (s *Server) serveJSON2(w http.ResponseWriter, r *http.Request) {
	model, method := r.PathValue("model"), r.PathValue("method")
	// The body is read first, as Odoo does: until it is, the server cannot
	// notice a client that gives up, and a hung call would hold a Serial
	// fake's turn for good.
	body, readErr := io.ReadAll(r.Body)
	fail, lat, ok := s.begin(r.Context(), model, method)
	if !ok {
		return
	}
	began := time.Now()
	ended := false
	defer func() {
		if !ended {
			s.end(lat, model, method, 0)
		}
	}()
	if fail != nil && s.injectHTTP(w, r, *fail) {
		return
	}
	result, n, oerr := s.json2Call(r, body, readErr, model, method, fail)
	s.spend(r.Context(), began, lat.of(method, n))
	s.end(lat, model, method, n)
	ended = true
	if oerr != nil {
		status, body := oerr.json2Error()
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", "Bearer ")
		}
		writeJSON(w, status, pyJSON(body), false)
		return
	}
	if method == "create" {
		if id, single := result.(int64); single {
			result = []int64{id} // a recordset is its ids over JSON-2
		}
	}
	writeJSON(w, http.StatusOK, pyJSON(result), true)
}

// json2Call authenticates the bearer key and runs the call.
func (s *Server) json2Call(r *http.Request, body []byte, readErr error, model, method string, fail *Failure) (any, int, *odooError) {
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.mu.Lock()
	var uid int64
	if strings.EqualFold(scheme, "bearer") && key != "" {
		uid = s.apiKeyUser(strings.TrimSpace(key))
	}
	s.mu.Unlock()
	if uid == 0 {
		return nil, 0, &odooError{class: clsUnauthorized, message: "Invalid apikey"}
	}
	if db := r.Header.Get("X-Odoo-Database"); db != "" && db != s.Database {
		return nil, 0, &odooError{class: clsNotFound, message: fmt.Sprintf("database %s not found", pyRepr(db))}
	}
	if fail != nil {
		if fail.Kind == FailSerialization {
			return nil, 0, serializationFailure()
		}
		return nil, 0, fail.faultError()
	}
	if readErr != nil {
		return nil, 0, &odooError{class: clsBadRequest, message: readErr.Error()}
	}
	kw, err := parseJSON(body)
	if err != nil {
		return nil, 0, &odooError{class: clsBadRequest, message: "Invalid JSON data: " + err.Error()}
	}
	req := request{uid: uid, model: model, method: method, kw: kw}
	if ids, ok := kw["ids"]; ok {
		req.ids, _ = anyIDs(ids)
		delete(kw, "ids")
	}
	if err := checkJSON2Args(req); err != nil {
		return nil, 0, err
	}
	return s.run(req)
}

// checkJSON2Args binds the named arguments as Odoo's JSON-2 controller
// does before calling: 422 for ids on a model method or an unknown
// argument. Unknown models and methods are left to exec.
func checkJSON2Args(r request) *odooError {
	sig, ok := signatures[r.method]
	if !ok {
		return nil
	}
	if !sig.records && len(r.ids) > 0 {
		return &odooError{class: clsUnprocessable, message: fmt.Sprintf("cannot call %s.%s with ids", r.model, r.method)}
	}
	for k := range r.kw {
		if k != "context" && !slices.Contains(sig.names, k) {
			return &odooError{class: clsUnprocessable, message: fmt.Sprintf("got an unexpected keyword argument '%s'", k)}
		}
	}
	return nil
}

// apiKeyUser answers the uid owning key; JSON-2 takes API keys only. The
// caller holds s.mu.
func (s *Server) apiKeyUser(key string) int64 {
	for _, u := range s.users {
		for _, k := range u.keys {
			if k == key {
				return u.uid
			}
		}
	}
	return 0
}

func writeJSON(w http.ResponseWriter, status int, body []byte, ok bool) {
	h := w.Header()
	h.Set("Server", "Werkzeug/2.2.2 Python/3.11.2")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Content-Type", "application/json; charset=utf-8")
	if ok {
		h.Set("X-Content-Type-Options", "nosniff")
	}
	w.WriteHeader(status)
	w.Write(body)
}

// serveHealth answers GET /web/health as Odoo 17+ does; with
// ?db_server_status=1 it also checks the database.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	info, status := omap{{"status", "pass"}}, http.StatusOK
	if q := r.URL.Query().Get("db_server_status"); q != "" && q != "0" && !strings.EqualFold(q, "false") {
		s.mu.Lock()
		down := s.dbDown
		s.mu.Unlock()
		info = append(info, kv{"db_server_status", !down})
		if down {
			info[0].v, status = "fail", http.StatusInternalServerError
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(pyJSON(info))
}

// serveVersion answers GET /web/version, which needs no credentials.
func (s *Server) serveVersion(w http.ResponseWriter, _ *http.Request) {
	info, _ := versionInfo.get("server_version_info")
	writeJSON(w, http.StatusOK, pyJSON(omap{{"version_info", info}, {"version", "19.0"}}), true)
}
