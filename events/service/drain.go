package service

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DrainQuiet ends a drain early: once no request has been in flight for
// this long, nobody seems to be sending, and waiting out the rest of
// drain_period would only delay the stop.
const DrainQuiet = time.Second

// request is one request being handled, as the shutdown names it if it
// has to cut it: never its path (an Odoo webhook's holds a token).
type request struct {
	method, route, remote string
	start                 time.Time
	id                    atomic.Pointer[string] // correlation id, set by the handler
}

type requestKey struct{}

// SetCorrelationID names the request ctx belongs to by its correlation id
// (a GitHub delivery GUID, an Odoo event id) as soon as the handler knows
// it, so that a shutdown that has to cut the request logs which it was.
// Outside a Server's request it does nothing.
func SetCorrelationID(ctx context.Context, id string) {
	if r, ok := ctx.Value(requestKey{}).(*request); ok && id != "" {
		r.id.Store(&id)
	}
}

// flight is the set of requests being handled.
type flight struct {
	mu   sync.Mutex
	reqs map[*request]struct{}
	last time.Time // when the last request ended or started
}

func (f *flight) add(r *request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reqs == nil {
		f.reqs = map[*request]struct{}{}
	}
	f.reqs[r] = struct{}{}
	f.last = r.start
}

func (f *flight) remove(r *request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.reqs, r)
	f.last = time.Now()
}

// quiet says whether no request has been in flight for d.
func (f *flight) quiet(d time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs) == 0 && time.Since(f.last) >= d
}

func (f *flight) list() []*request {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*request, 0, len(f.reqs))
	for r := range f.reqs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *request) int { return a.start.Compare(b.start) })
	return out
}

// serve is every request's way in: it is tracked while it runs, and
// during the drain its answer closes its connection.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_, route := s.mux.Handler(r)
	req := &request{method: r.Method, route: route, remote: r.RemoteAddr, start: time.Now()}
	s.flight.add(req)
	defer s.flight.remove(req)
	if s.draining.Load() {
		w.Header().Set("Connection", "close")
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
}

// drain fails /health and closes every connection after its next answer,
// while still serving, for up to drain_period (less once nobody sends).
//
// Keep-alives are turned off this way rather than with
// http.Server.SetKeepAlivesEnabled(false), which also closes the idle
// connections at once: a client that is just sending its next request on
// one would get a reset, the very thing the drain is for. Connections
// still idle at the end are closed by the shutdown, when an active client
// has long had an answer that told it to reconnect.
func (s *Server) drain() {
	s.draining.Store(true)
	d := s.cfg.DrainPeriod
	if d <= 0 {
		return
	}
	s.log.Info("http draining: /health answers 503 and every answer closes its connection", "addr", s.Addr(), "drain_period", d.String())
	end := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(end) && !s.flight.quiet(min(DrainQuiet, d)) {
		<-tick.C
	}
}

// logCut logs each request still in flight at the end of the shutdown
// timeout, by its correlation id, and says how many there were.
func (s *Server) logCut(timeout time.Duration) int {
	reqs := s.flight.list()
	for _, r := range reqs {
		id := ""
		if p := r.id.Load(); p != nil {
			id = *p
		}
		s.log.Error("request cut: still in flight at the end of the shutdown timeout", "correlation_id", id,
			"method", r.method, "route", r.route, "remote_addr", r.remote, "shutdown_timeout", timeout.String(),
			"duration_ms", float64(time.Since(r.start).Microseconds())/1000)
	}
	return len(reqs)
}
