package odootest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// FailNext makes the next n matching calls fail with f (see Failure.For).
// Failures queue up in order.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// SetLatency changes the latency of the calls that start from now on.
func (s *Server) SetLatency(l Latency) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = l
}

// SetDown takes the server off the network (new connections are refused,
// open ones are closed) or puts it back on the same address.
func (s *Server) SetDown(down bool) error {
	if err := s.lis.setDown(down); err != nil {
		return err
	}
	if down {
		s.srv.CloseClientConnections()
	}
	return nil
}

// SetDatabaseDown makes PostgreSQL unreachable behind Odoo: calls answer
// psycopg2.OperationalError and /web/health?db_server_status=1 fails.
func (s *Server) SetDatabaseDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbDown = down
}

// Calls counts the calls of method received so far: an ORM method
// ("create") whatever the model, or "authenticate", "version".
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// WaitCalls waits until at least n calls of method were received (see
// Calls), or ctx ends.
func (s *Server) WaitCalls(ctx context.Context, method string, n int) error {
	for {
		s.mu.Lock()
		got, called := s.calls[method], s.called
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-called:
		case <-ctx.Done():
			return fmt.Errorf("odootest: %d of %d %s calls: %w", got, n, method, ctx.Err())
		}
	}
}

// CallsFor counts the calls of model.method received so far.
func (s *Server) CallsFor(model, method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[model+"\x00"+method]
}

// MaxConcurrent is the most calls that were ever in flight at once.
func (s *Server) MaxConcurrent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Connections counts the TCP connections accepted: Odoo closes every
// XML-RPC connection after its answer, so each XML-RPC call dials anew,
// while JSON-2 connections are kept alive.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// ResetCounters zeroes Calls, CallsFor, MaxConcurrent, Connections, Busy
// and Served.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.maxInFlight, s.conns, s.busy, s.served = map[string]int{}, s.inFlight, 0, 0, nil
}

// Busy is how long a Serial fake has been serving calls (its one call
// at a time) since it started or ResetCounters: over a run's duration,
// how much of the time Odoo was working rather than waiting for the
// client.
func (s *Server) Busy() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

// Served lists the calls a Serial fake served since it started or
// ResetCounters (the first 10,000), in the order they took their turn:
// with Busy, where Odoo waited for its client — before the first call,
// between calls, after the last.
func (s *Server) Served() []ServedCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.served)
}

// Records snapshots a model's records by ascending id, as read with
// load=None gives them: every field, many2one as a bare id, x2many as id
// lists, datetimes as Odoo strings, empty values false.
func (s *Server) Records(model string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.db.models[model]
	if !ok {
		return nil
	}
	var out []map[string]any
	for _, id := range s.db.ids(model) {
		r, _ := s.db.row(model, id)
		rec := map[string]any{}
		for _, e := range s.db.render(m, r, nil, readBare) {
			rec[e.k] = e.v
		}
		out = append(out, rec)
	}
	return out
}

// Count is the number of records of model (archived ones included).
func (s *Server) Count(model string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.db.tables[model]; ok {
		return len(t.rows)
	}
	return 0
}

// Insert creates a record directly, without a call: vals may hold "id" to
// choose it. Validation is the same as create's.
func (s *Server) Insert(model string, vals map[string]any) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.db.model(model)
	if err != nil {
		return 0, errors.New(err.message)
	}
	vals = maps.Clone(vals)
	for k, v := range vals {
		vals[k] = normalizeGo(v)
	}
	id, err := s.db.create(m, vals, true)
	if err != nil {
		return 0, errors.New(err.message)
	}
	return id, nil
}

// normalizeGo turns the Go values a test writes (int, []int64...) into the
// ones a call would carry.
func normalizeGo(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	case []int64:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case []int:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out
	}
	return v
}

// AddModel declares a model, or adds fields (and unique constraints) to
// the model of the same name. Reset keeps only the models given to New.
func (s *Server) AddModel(m Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.addModel(m)
}

// User is a user who can log in to the fake.
type User struct {
	Login    string
	Name     string   // default Login
	Password string   // for XML-RPC authenticate
	APIKeys  []string // for JSON-2, and as passwords over XML-RPC
	// DeniedModels answer an AccessError (fault 4, JSON-2 403) to this user.
	DeniedModels []string
}

// AddUser creates a user (and its res.users record) and returns its uid.
func (s *Server) AddUser(u User) (int64, error) {
	name := u.Name
	if name == "" {
		name = u.Login
	}
	uid, err := s.Insert("res.users", map[string]any{"name": name, "login": u.Login})
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nu := &user{uid: uid, login: u.Login, password: u.Password, keys: slices.Clone(u.APIKeys), denied: map[string]bool{}}
	for _, m := range u.DeniedModels {
		nu.denied[m] = true
	}
	s.users[uid] = nu
	return uid, nil
}

// SetPassword changes a user's password.
func (s *Server) SetPassword(login, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userByLogin(login); u != nil {
		u.password = password
	}
}

// AddKey gives a user another API key (a rotation adds one, then revokes
// the old).
func (s *Server) AddKey(login, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userByLogin(login); u != nil {
		u.keys = append(u.keys, key)
	}
}

// RevokeKey deletes an API key, whoever it belongs to.
func (s *Server) RevokeKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		u.keys = slices.DeleteFunc(u.keys, func(k string) bool { return k == key })
	}
}

func (s *Server) userByLogin(login string) *user {
	for _, u := range s.users {
		if u.login == login {
			return u
		}
	}
	return nil
}

// check answers the uid whose password or API key secret is, 0 if none.
func (s *Server) check(login string, uid int64, secret string) int64 {
	for _, u := range s.users {
		if (login != "" && u.login != login) || (uid != 0 && u.uid != uid) {
			continue
		}
		if (u.password != "" && u.password == secret) || slices.Contains(u.keys, secret) {
			return u.uid
		}
	}
	return 0
}
