package odoo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
)

// Client calls one Odoo instance. It is safe for concurrent use; at most
// Config.MaxConcurrency calls are in flight at once.
type Client struct {
	cfg   Config
	tr    transport
	http  *http.Client
	log   *slog.Logger
	slots chan struct{} // one token per call in flight

	authLock chan struct{} // held while authenticating; waiting respects ctx
	mu       sync.Mutex
	uid      int64
	authGen  uint64 // bumped on every successful authentication
}

// Option tunes a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (its Timeout should be 0: deadlines
// come from the context and Config.Timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// New builds a Client for cfg (defaults applied, then validated). It does
// not contact Odoo: the first call authenticates.
func New(cfg Config, opts ...Option) (*Client, error) {
	cfg.Defaults()
	if ps := cfg.Validate("odoo"); len(ps) > 0 {
		return nil, fmt.Errorf("odoo client: %w", ps.Err())
	}
	c := &Client{
		cfg:      cfg,
		log:      slog.New(slog.DiscardHandler),
		slots:    make(chan struct{}, cfg.MaxConcurrency),
		authLock: make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{Transport: newHTTPTransport(cfg.MaxConcurrency)}
	}
	p := &poster{client: noRedirects(c.http), timeout: cfg.Timeout}
	switch cfg.Transport {
	case TransportJSON2:
		c.tr = &json2Transport{p: p, base: cfg.baseURL(), db: cfg.Database, secret: cfg.Password}
	default:
		c.tr = &xmlrpcTransport{p: p, base: cfg.baseURL(), db: cfg.Database, login: cfg.Login, secret: cfg.Password}
	}
	c.log = c.log.With("odoo_url", cfg.baseURL(), "odoo_transport", cfg.Transport)
	return c, nil
}

// newHTTPTransport keeps as many idle connections as calls may be in
// flight, so a server that allows keep-alive is reused; real Odoo answers
// XML-RPC with Connection: close, and then every call dials anew.
func newHTTPTransport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = conns
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// Config returns the configuration the client runs with (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// CloseIdleConnections closes the kept-alive connections.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// acquire takes a call slot, waiting no longer than ctx allows.
func (c *Client) acquire(ctx context.Context) (release func(), err error) {
	select {
	case c.slots <- struct{}{}:
		return func() { <-c.slots }, nil
	case <-ctx.Done():
		return nil, &Fault{Message: "waiting for a free call slot", Err: ctx.Err(), transient: true}
	}
}

// Version asks Odoo for its version; it needs no authentication.
func (c *Client) Version(ctx context.Context) (Version, error) {
	release, err := c.acquire(ctx)
	if err != nil {
		return Version{}, c.finish(err, "", "version")
	}
	defer release()
	v, err := c.tr.version(ctx)
	return v, c.finish(err, "", "version")
}

// Authenticate returns the user's uid, asking Odoo only the first time
// (authenticating costs Odoo a password hash, about 300 ms). Rejected
// credentials are a permanent *Fault.
func (c *Client) Authenticate(ctx context.Context) (int64, error) {
	release, err := c.acquire(ctx)
	if err != nil {
		return 0, c.finish(err, "", "authenticate")
	}
	defer release()
	uid, _, err := c.session(ctx)
	return uid, c.finish(err, "", "authenticate")
}

// session returns the cached uid and its generation, authenticating first
// if there is none. The caller holds a call slot.
func (c *Client) session(ctx context.Context) (int64, uint64, error) {
	c.mu.Lock()
	uid, gen := c.uid, c.authGen
	c.mu.Unlock()
	if uid != 0 {
		return uid, gen, nil
	}
	return c.reauthenticate(ctx, gen)
}

// reauthenticate authenticates unless another call already did since
// generation seen; concurrent callers wait for one authentication.
func (c *Client) reauthenticate(ctx context.Context, seen uint64) (int64, uint64, error) {
	select {
	case c.authLock <- struct{}{}:
		defer func() { <-c.authLock }()
	case <-ctx.Done():
		return 0, 0, &Fault{Message: "waiting for authentication", Err: ctx.Err(), transient: true}
	}
	c.mu.Lock()
	if c.authGen != seen && c.uid != 0 {
		uid, gen := c.uid, c.authGen
		c.mu.Unlock()
		return uid, gen, nil
	}
	c.uid = 0
	c.mu.Unlock()

	uid, err := c.tr.authenticate(ctx)
	if f, ok := asFault(err); ok && f.Method == "" {
		f.Method = "authenticate" // say which step failed, whatever call needed it
	}
	if err != nil {
		return 0, 0, err
	}
	if uid == 0 {
		return 0, 0, c.rejected()
	}
	c.mu.Lock()
	c.uid = uid
	c.authGen++
	gen := c.authGen
	c.mu.Unlock()
	c.log.Info("odoo authenticated", "odoo_uid", uid)
	return uid, gen, nil
}

// rejected is the permanent Fault for credentials Odoo refused.
func (c *Client) rejected() *Fault {
	msg := fmt.Sprintf("credentials were rejected (login %q, database %q)", c.cfg.Login, c.cfg.Database)
	if c.cfg.Transport == TransportJSON2 {
		msg = fmt.Sprintf("credentials were rejected (API key for database %q)", c.cfg.Database)
	}
	c.log.Warn("odoo rejected the credentials", "odoo_login", c.cfg.Login, "odoo_database", c.cfg.Database)
	return &Fault{Name: nameAccessDenied, Method: "authenticate", Message: msg}
}

// ExecuteKW calls model.method(*args, **kwargs) as execute_kw does, with
// args positional as XML-RPC takes them (record methods take the ids
// first); the JSON-2 transport names them for the common methods. On an
// access-denied answer it re-authenticates once and tries again; a second
// denial is a permanent *Fault.
func (c *Client) ExecuteKW(ctx context.Context, model, method string, args []any, kwargs map[string]any) (v any, err error) {
	ctx, span := startCall(ctx, model, method, args)
	defer func() { endCall(span, err) }()
	release, err := c.acquire(ctx)
	if err != nil {
		return nil, c.finish(err, model, method)
	}
	defer release()
	start := time.Now()
	v, err = c.executeHeld(ctx, call{model: model, method: method, args: args, kwargs: kwargs})
	err = c.finish(err, model, method)
	c.logCall(model, method, start, err)
	return v, err
}

func (c *Client) executeHeld(ctx context.Context, cl call) (any, error) {
	uid, gen, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	v, err := c.tr.execute(ctx, uid, cl)
	var f *Fault
	if !errors.As(err, &f) || !f.accessDenied() {
		return v, err
	}
	c.log.Warn("odoo denied access; authenticating again", "odoo_model", cl.model, "odoo_method", cl.method)
	if uid, _, err = c.reauthenticate(ctx, gen); err != nil {
		return nil, err
	}
	return c.tr.execute(ctx, uid, cl)
}

// finish fills in the call on a *Fault, makes a repeated access denial
// permanent, and scrubs the secret from anything Odoo echoed back.
func (c *Client) finish(err error, model, method string) error {
	if err == nil {
		return nil
	}
	f, ok := asFault(err)
	if !ok {
		return err
	}
	if f.Model == "" && f.Method == "" {
		f.Model, f.Method = model, method
	}
	if f.accessDenied() {
		f.transient = false
	}
	// This client's own password, however short (config.Scrub ignores
	// secrets under config.MinSecretBytes), then every other secret.
	if s := c.cfg.Password.Value(); s != "" {
		f.Message = strings.ReplaceAll(f.Message, s, config.Redacted)
		f.Detail = strings.ReplaceAll(f.Detail, s, config.Redacted)
	}
	f.Message, f.Detail = config.Scrub(f.Message), config.Scrub(f.Detail)
	return f
}

func (c *Client) logCall(model, method string, start time.Time, err error) {
	if err == nil {
		c.log.Debug("odoo call", "odoo_model", model, "odoo_method", method, "duration_ms", time.Since(start).Milliseconds())
		return
	}
	f, _ := asFault(err)
	transient := f != nil && f.Transient()
	c.log.Debug("odoo call failed", "odoo_model", model, "odoo_method", method,
		"duration_ms", time.Since(start).Milliseconds(), "error", err.Error(), "transient", transient)
}
