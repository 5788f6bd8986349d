package service

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPConfig is a service's HTTP listener.
type HTTPConfig struct {
	Listen            string        `yaml:"listen"`              // host:port; loopback by default
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"` // default 5s
	ReadTimeout       time.Duration `yaml:"read_timeout"`        // whole request, body included; default 30s
	WriteTimeout      time.Duration `yaml:"write_timeout"`       // default 30s
	IdleTimeout       time.Duration `yaml:"idle_timeout"`        // keep-alive; default 120s
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`    // default 64 KiB
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`    // to finish in-flight requests after the drain; those still running are cut and logged; default 10s
	DrainPeriod       time.Duration `yaml:"drain_period"`        // on stop, the longest time /health answers 503 and every answer says Connection: close while requests are still served, before the shutdown (it ends sooner once no request has come for 1s); 0 = none; default 0 (the ingester: 5s)
	TLSCertFile       string        `yaml:"tls_cert_file"`       // serve HTTPS (TLS 1.3 minimum) when set with tls_key_file
	TLSKeyFile        string        `yaml:"tls_key_file"`
}

// Validate reports every problem under path.
func (c HTTPConfig) Validate(path string) config.Problems {
	var ps config.Problems
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		ps.Add(path+".listen", "want host:port, got %q", c.Listen)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		ps.Add(path+".tls_cert_file", "tls_cert_file and tls_key_file go together")
	}
	if c.DrainPeriod < 0 {
		ps.Add(path+".drain_period", "must not be negative (0 = none)")
	}
	return ps
}

// EffectiveReadTimeout is the read timeout the server applies: read_timeout,
// or its default of 30s when unset.
func (c HTTPConfig) EffectiveReadTimeout() time.Duration {
	return orDefault(c.ReadTimeout, 30*time.Second)
}

// Check is one named /health check.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// Server serves a service's HTTP endpoints, /health and /metrics included.
type Server struct {
	cfg    HTTPConfig
	log    *slog.Logger
	mux    *http.ServeMux
	mu     sync.Mutex
	checks []Check
	ln     net.Listener
	// healthHandler, when set, answers GET /health instead of the checks.
	healthHandler http.Handler
	details       map[string]func(context.Context) any

	draining atomic.Bool // Run is stopping: /health fails, answers close their connection
	flight   flight      // the requests being handled, for the drain and the shutdown's log
}

// NewServer returns a server with GET /health (the checks added with
// AddCheck) and GET /metrics (reg) mounted.
func NewServer(cfg HTTPConfig, log *slog.Logger, reg *prometheus.Registry) *Server {
	s := &Server{cfg: cfg, log: log, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /health", s.health)
	if reg != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
	}
	return s
}

// Handle mounts h on pattern (net/http ServeMux patterns).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// AddCheck adds a /health check; /health answers 503 when any fails.
func (s *Server) AddCheck(name string, fn func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, Check{Name: name, Fn: fn})
}

// AddDetail adds a value to the /health JSON under "details" that informs
// without deciding the status (the dispatcher's breaker states: an open
// breaker is a fact about a microservice, not a failure of the service).
func (s *Server) AddDetail(name string, fn func(context.Context) any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.details == nil {
		s.details = map[string]func(context.Context) any{}
	}
	s.details[name] = fn
}

// HandleHealth makes h answer GET /health while every check passes, for a
// service whose health is its own aggregate (the health monitor's); a
// failing check (the supervisor's "tasks") still answers 503 with the
// checks.
func (s *Server) HandleHealth(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.healthHandler = h
}

// Listen binds the listener; Addr is known afterwards (useful with port 0).
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address, after Listen.
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.cfg.Listen
	}
	return s.ln.Addr().String()
}

// Run listens (unless Listen was called) and serves until ctx is done, then
// stops without resetting a client: first it drains for up to
// drain_period (/health answers 503 so a load balancer stops sending, and
// every answer carries Connection: close so keep-alive clients close after
// their current request, while everything is still served), then it shuts
// down, letting in-flight requests finish for up to shutdown_timeout. A
// request still running then is logged with its correlation id and cut,
// and Run returns an error saying how many were.
func (s *Server) Run(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: orDefault(s.cfg.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       s.cfg.EffectiveReadTimeout(),
		WriteTimeout:      orDefault(s.cfg.WriteTimeout, 30*time.Second),
		IdleTimeout:       orDefault(s.cfg.IdleTimeout, 120*time.Second),
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if srv.MaxHeaderBytes <= 0 {
		srv.MaxHeaderBytes = 64 << 10
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if s.cfg.TLSCertFile != "" {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS13}
			err = srv.ServeTLS(s.ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		} else {
			err = srv.Serve(s.ln)
		}
		errc <- err
	}()
	s.log.Info("http listening", "addr", s.Addr(), "tls", s.cfg.TLSCertFile != "")
	select {
	case err := <-errc:
		return fmt.Errorf("http %s: %w", s.Addr(), err)
	case <-ctx.Done():
	}
	s.drain()
	timeout := orDefault(s.cfg.ShutdownTimeout, 10*time.Second)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Requests still running are cut: say which, by their correlation
		// ids, before their connections are closed under them.
		n := s.logCut(timeout)
		_ = srv.Close()
		err = fmt.Errorf("http %s: %d requests still in flight after the %s shutdown timeout were cut: %w", s.Addr(), n, timeout, err)
	}
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

type checkResult = wire.HealthCheck

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks := append([]Check(nil), s.checks...)
	custom := s.healthHandler
	details := make(map[string]func(context.Context) any, len(s.details))
	for k, v := range s.details {
		details[k] = v
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	results := make(map[string]checkResult, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := checkResult{Status: "ok"}
			if err := c.Fn(ctx); err != nil {
				res = checkResult{Status: "fail", Error: config.Scrub(err.Error())}
			}
			mu.Lock()
			results[c.Name] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	if s.draining.Load() {
		results["http"] = checkResult{Status: "fail", Error: "stopping: draining connections"}
	}
	status, code := "ok", http.StatusOK
	for _, res := range results {
		if res.Status != "ok" {
			status, code = "fail", http.StatusServiceUnavailable
		}
	}
	if custom != nil && code == http.StatusOK {
		// The service's own aggregate, unless a check (the supervisor's
		// "tasks": a failed loop, the service stopping) says otherwise.
		custom.ServeHTTP(w, r)
		return
	}
	body := wire.Health{Status: status, Version: Version, Checks: results}
	if len(details) > 0 {
		d := make(map[string]any, len(details))
		for name, fn := range details {
			d[name] = fn(ctx)
		}
		body.Details = d
	}
	WriteJSON(w, code, body)
}

// WriteJSON writes v as a JSON response with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	writeJSONHeader(w, code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing to do
}

// WriteJSONBytes is WriteJSON for a body already encoded as WriteJSON
// would (indented, a final newline): a caller answering every request
// with the same small shape writes it without reflection.
func WriteJSONBytes(w http.ResponseWriter, code int, body []byte) {
	writeJSONHeader(w, code)
	_, _ = w.Write(body) // the client went away: nothing to do
}

func writeJSONHeader(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
}
