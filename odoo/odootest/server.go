// Package odootest is a fake Odoo 19 for tests: an httptest server that
// speaks XML-RPC (/xmlrpc/2/common, /xmlrpc/2/object) and JSON-2
// (/json/2/<model>/<method>) with the answers, fault codes, statuses and
// error bodies real Odoo gives (recorded in testdata/), keeps records of
// declared models in memory, evaluates domains, runs load with external
// ids, serves /web/health, and sends webhooks as Odoo's "Send Webhook
// Notification" action does.
//
// Every service's tests share it. Test controls inject latency and
// failures (faults, 502/503/429, serialization failures, hung calls,
// dropped connections), take the server down, rotate credentials, count
// calls and the most calls ever in flight at once, and snapshot records.
// It is safe for concurrent use.
package odootest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
)

// Credentials of the user every fake starts with (uid 2, as in the
// recorded database).
const (
	DefaultDatabase = "hubtest"
	AdminUID        = int64(2)
	AdminLogin      = "admin"
	AdminPassword   = "admin"
	AdminAPIKey     = "odootest-admin-api-key"
)

// Latency is what an RPC call costs in all (the fake's own work counts
// toward it): PerCall, plus PerRecord for each
// record the call wrote (or read, when PerRead is zero), plus PerRead for
// each record a read or search answered. With Serial the fake serves one
// call at a time, as Odoo started with --workers=0 does: calls that come
// in parallel queue, each waiting for the ones before it to answer. The
// zero Latency costs nothing and serves calls in parallel (unit tests);
// MeasuredOdoo19 is a real server's cost (benchmarks).
type Latency struct {
	PerCall   time.Duration
	PerRecord time.Duration
	PerRead   time.Duration
	Serial    bool
}

// MeasuredOdoo19 is the cost of the real Odoo 19 the fixtures were
// recorded from (2 cores, --workers=0, see the fixtures' README): a
// one-record call about 20 ms, a create of N records 20 ms + 0.65 ms × N,
// a search_read answering 100 records by an indexed key about 25 ms, one
// call at a time.
var MeasuredOdoo19 = Latency{PerCall: 20 * time.Millisecond, PerRecord: 650 * time.Microsecond, PerRead: 50 * time.Microsecond, Serial: true}

// readMethods only read: their records cost PerRead.
var readMethods = map[string]bool{"read": true, "search": true, "search_read": true, "search_count": true, "name_search": true}

// of is the cost of a call of method that touched n records.
func (l Latency) of(method string, n int) time.Duration {
	per := l.PerRecord
	if l.PerRead > 0 && readMethods[method] {
		per = l.PerRead
	}
	return l.PerCall + time.Duration(n)*per
}

// Server is a fake Odoo. Its URL is the base URL clients use.
type Server struct {
	URL      string
	Database string

	srv       *httptest.Server
	lis       *switchListener
	closing   chan struct{}
	closeOnce sync.Once
	hooks     *http.Client // sends webhooks

	mu          sync.Mutex // guards everything below
	opts        options
	db          *store
	users       map[int64]*user
	failures    []Failure
	latency     Latency
	calls       map[string]int // by method, and by model+"\x00"+method
	inFlight    int
	maxInFlight int
	dbDown      bool
	conns       int           // connections accepted
	called      chan struct{} // closed and replaced on every call

	turn   chan struct{} // held by the call being served when Latency.Serial
	turnAt time.Time     // when the call holding turn took it; guarded by mu
	busy   time.Duration // time turns were held since the counters were reset; guarded by mu
	served []ServedCall  // the turns taken since the counters were reset, at most maxServed; guarded by mu
}

// ServedCall is one call a Serial fake served: when it took its turn and
// gave it back, and how many records it touched.
type ServedCall struct {
	Model, Method string
	Records       int
	Start, End    time.Time
}

// maxServed bounds the calls Served remembers.
const maxServed = 10000

// user is an Odoo user who can log in.
type user struct {
	uid      int64
	login    string
	password string
	keys     []string
	denied   map[string]bool
}

// Option configures a Server.
type Option func(*options)

type options struct {
	database string
	models   []Model
	clock    func() time.Time
	latency  Latency
}

// WithDatabase names the database (default "hubtest").
func WithDatabase(name string) Option { return func(o *options) { o.database = name } }

// WithModels declares models beside the defaults; a model of an existing
// name gets the extra fields.
func WithModels(models ...Model) Option {
	return func(o *options) { o.models = append(o.models, models...) }
}

// WithClock sets the clock create_date and write_date come from.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithLatency sets the initial latency.
func WithLatency(l Latency) Option { return func(o *options) { o.latency = l } }

// New starts a fake Odoo that closes itself when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatalf("odootest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a fake Odoo outside a test (benchmarks, demos); Close
// stops it.
func NewServer(opts ...Option) (*Server, error) {
	o := options{database: DefaultDatabase, clock: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	lis, err := newSwitchListener()
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{Database: o.database, lis: lis, closing: make(chan struct{}), opts: o, called: make(chan struct{}), turn: make(chan struct{}, 1)}
	s.hooks = &http.Client{Timeout: time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	s.srv = httptest.NewUnstartedServer(s.routes())
	s.srv.Config.ConnState = s.countConn
	s.srv.Listener.Close()
	s.srv.Listener = lis
	s.srv.Start()
	s.URL = s.srv.URL
	s.Reset()
	return s, nil
}

// Close stops the server; calls hanging on an injected failure end.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
		s.hooks.CloseIdleConnections()
	})
}

// Config is an odoo.Config for the admin user over transport ("xmlrpc" or
// "json2"): the password over XML-RPC, the API key over JSON-2.
func (s *Server) Config(transport string) odoo.Config {
	secret := AdminPassword
	if transport == odoo.TransportJSON2 {
		secret = AdminAPIKey
	}
	return odoo.Config{URL: s.URL, Database: s.Database, Login: AdminLogin,
		Password: config.NewSecret(secret), Transport: transport}
}

// Reset puts the fake back as it started: default and declared models
// with their seed records, the admin user only, no failures, the initial
// latency, counters at zero, up.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db = newStore(append(DefaultModels(), s.opts.models...), s.opts.clock)
	s.seed()
	s.users = map[int64]*user{AdminUID: {uid: AdminUID, login: AdminLogin, password: AdminPassword, keys: []string{AdminAPIKey}}}
	s.failures, s.latency, s.dbDown = nil, s.opts.latency, false
	s.calls, s.maxInFlight, s.conns, s.busy, s.served = map[string]int{}, s.inFlight, 0, 0, nil
	if err := s.lis.setDown(false); err != nil {
		panic(fmt.Sprintf("odootest: listen again: %v", err))
	}
}

// seed creates the records every Odoo database has.
func (s *Server) seed() {
	for _, r := range []struct {
		model string
		vals  map[string]any
	}{
		{"res.partner", map[string]any{"id": int64(1), "name": "My Company", "is_company": true}},
		{"res.partner", map[string]any{"id": int64(2), "name": "OdooBot"}},
		{"res.partner", map[string]any{"id": int64(3), "name": "Mitchell Admin"}},
		{"res.company", map[string]any{"id": int64(1), "name": "My Company", "partner_id": int64(1)}},
		{"res.users", map[string]any{"id": int64(1), "name": "OdooBot", "login": "__system__", "partner_id": int64(2)}},
		{"res.users", map[string]any{"id": AdminUID, "name": "Mitchell Admin", "login": AdminLogin, "partner_id": int64(3)}},
	} {
		if _, err := s.db.create(s.db.models[r.model], r.vals, true); err != nil {
			panic(fmt.Sprintf("odootest: seed %s: %s", r.model, err.message))
		}
	}
}

func (s *Server) countConn(_ net.Conn, state http.ConnState) {
	if state == http.StateNew {
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /xmlrpc/2/{service}", s.serveXMLRPC)
	mux.HandleFunc("POST /json/2/{model}/{method}", s.serveJSON2)
	mux.HandleFunc("GET /web/health", s.serveHealth)
	mux.HandleFunc("GET /web/version", s.serveVersion)
	return mux
}

// begin counts a call, marks it in flight, takes its failure if one is
// queued and, when the latency is Serial, waits for its turn. ok false:
// the caller or the fake went away while it queued, and the call is over;
// else end(lat) must follow.
func (s *Server) begin(ctx context.Context, model, method string) (fail *Failure, lat Latency, ok bool) {
	s.mu.Lock()
	s.calls[method]++
	s.calls[model+"\x00"+method]++
	close(s.called)
	s.called = make(chan struct{})
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	fail, lat = s.takeFailure(method), s.latency
	s.mu.Unlock()
	if !lat.Serial {
		return fail, lat, true
	}
	select {
	case s.turn <- struct{}{}:
		s.mu.Lock()
		s.turnAt = time.Now()
		s.mu.Unlock()
		return fail, lat, true
	case <-ctx.Done():
	case <-s.closing:
	}
	lat.Serial = false // no turn to give back
	s.end(lat, model, method, 0)
	return nil, lat, false
}

// end ends a call of model.method begun with begin, which touched n
// records, giving back its turn.
func (s *Server) end(lat Latency, model, method string, n int) {
	s.mu.Lock()
	s.inFlight--
	if lat.Serial {
		now := time.Now()
		s.busy += now.Sub(s.turnAt)
		if len(s.served) < maxServed {
			s.served = append(s.served, ServedCall{Model: model, Method: method, Records: n, Start: s.turnAt, End: now})
		}
	}
	s.mu.Unlock()
	if lat.Serial {
		<-s.turn
	}
}

// run executes one ORM call for an authenticated user.
func (s *Server) run(r request) (any, int, *odooError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dbDown {
		return nil, 0, databaseDown()
	}
	if u := s.users[r.uid]; u != nil && u.denied[r.model] {
		if m, ok := s.db.models[r.model]; ok {
			return nil, 0, accessError(m)
		}
	}
	return s.db.exec(r)
}
