// Package console is the operator console: server-rendered pages on
// healthmon's port (under /console/) where an operator sees the status,
// finds jobs and dead letters, and acts on them — requeue or cancel a job,
// requeue or purge dead letters, replay a route — with the same functions
// as the CLI (services/dispatcher/jobs, services/healthmon/ops). Pages work
// without JavaScript under a strict Content-Security-Policy; everything
// they show from a payload or an error is escaped by html/template.
//
// Every action, and every page unless public_read, needs a login:
// operator accounts from the config (passwords kept as bcrypt hashes),
// a session cookie (HttpOnly, SameSite=Strict, Secure under TLS), a CSRF
// token in every form, failed logins limited per address and per account.
// Each action writes one audit log line and one audit event
// (audit.console.<action> on stream HEALTH) with who, what and a
// correlation id.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/insightpulse/pulsehub/services/healthmon/page"
	"github.com/nats-io/nats.go/jetstream"
)

// Source is what the console reads from the monitor it is part of.
type Source interface {
	View() page.View                    // the status page's data (Overview, Routes)
	History(route string) []page.Sample // a route's ack floor over the last hour (the throughput sparkline)
}

// Console serves the pages.
type Console struct {
	cfg   Config
	js    jetstream.JetStream
	src   Source
	log   *slog.Logger
	auth  *auth
	index *index
	now   func() time.Time
	tls   bool
	mux   *http.ServeMux
}

// Option tunes a Console.
type Option func(*Console)

// WithClock sets the console's clock (tests).
func WithClock(now func() time.Time) Option { return func(c *Console) { c.now = now } }

//go:embed templates/*.html
var templateFS embed.FS

// pages are the templates, one set per page: each defines "content" in
// the shared layout, beside the status page's "style" and "status".
var pages = func() map[string]*template.Template {
	base := template.Must(template.Must(page.Template().Clone()).Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	out := map[string]*template.Template{}
	for _, name := range []string{"login", "overview", "jobs", "job", "dlq", "letter", "confirm", "routes", "replay", "done"} {
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html"))
	}
	return out
}()

// New builds the console; it reads nothing until Run. tls says whether
// healthmon serves HTTPS (the session cookie is then Secure).
func New(js jetstream.JetStream, src Source, log *slog.Logger, cfg Config, tls bool, opts ...Option) (*Console, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate("healthmon.console").Err(); err != nil {
		return nil, err
	}
	if js == nil {
		return nil, errors.New("healthmon.console: the console needs NATS")
	}
	c := &Console{cfg: cfg, js: js, src: src, log: log, index: newIndex(), now: time.Now, tls: tls}
	for _, o := range opts {
		o(c)
	}
	var err error
	if c.auth, err = newAuth(cfg, c.now); err != nil {
		return nil, fmt.Errorf("healthmon.console: %w", err)
	}
	c.routes()
	return c, nil
}

// Handler serves /console/.
func (c *Console) Handler() http.Handler { return c.mux }

// Run keeps the jobs index current until ctx is done.
func (c *Console) Run(ctx context.Context) error { return c.index.watch(ctx, c.js, 2*time.Second) }

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /console/login", c.loginPage)
	m.HandleFunc("POST /console/login", c.login)
	m.HandleFunc("POST /console/logout", c.action(c.logout))
	m.HandleFunc("GET /console/{$}", c.read(c.overview))
	m.HandleFunc("GET /console/jobs", c.read(c.jobsPage))
	m.HandleFunc("GET /console/jobs/{id}", c.read(c.jobPage))
	m.HandleFunc("POST /console/jobs/{id}/requeue", c.action(c.requeueJob))
	m.HandleFunc("POST /console/jobs/{id}/cancel", c.action(c.cancelJob))
	m.HandleFunc("GET /console/dlq", c.read(c.dlqPage))
	m.HandleFunc("GET /console/dlq/{seq}", c.read(c.letterPage))
	m.HandleFunc("POST /console/dlq/{seq}/requeue", c.action(c.requeueLetter))
	m.HandleFunc("GET /console/dlq/route/{route}/{op}", c.read(c.confirmPage))
	m.HandleFunc("POST /console/dlq/route/{route}/{op}", c.action(c.routeLetters))
	m.HandleFunc("GET /console/routes", c.read(c.routesPage))
	m.HandleFunc("POST /console/routes/{route}/replay", c.action(c.replay))
	c.mux = m
}

// frame is what the layout needs besides a page's own data.
type frame struct {
	Title  string
	Nav    string
	User   string // "" when not logged in
	CSRF   string
	Notice string
	Error  string
	Page   any
}

// render writes page name, rendered whole first: a template that fails
// half-way answers 500, not a truncated page with the status asked for.
func (c *Console) render(w http.ResponseWriter, status int, name string, f frame) {
	var b bytes.Buffer
	if err := pages[name].ExecuteTemplate(&b, "layout", f); err != nil {
		c.log.Error("console page not rendered", "page", name, "error", err.Error())
		http.Error(w, "the page could not be rendered: see the healthmon log", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// headers are set on every answer: no caching, a strict CSP (no script at
// all, styles only inline, forms only to this origin, no framing).
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// page is a GET handler: it gets the session (nil when public_read lets an
// anonymous reader in) and returns the page to render.
type pageFunc func(r *http.Request, s *session) (name string, f frame, status int)

// read wraps a page: a login unless public_read.
func (c *Console) read(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		s := c.auth.lookup(r)
		if s == nil && !c.cfg.PublicRead {
			http.Redirect(w, r, "/console/login?next="+template.URLQueryEscaper(r.URL.Path), http.StatusSeeOther)
			return
		}
		name, f, status := fn(r, s)
		if s != nil {
			f.User, f.CSRF, f.Notice = s.user, s.csrf, c.auth.popNotice(s)
		}
		c.render(w, status, name, f)
	}
}

// maxForm bounds a POST body: the forms hold a few short fields.
const maxForm = 16 << 10

// actionFunc is a POST handler run for a logged-in operator whose CSRF
// token matched.
type actionFunc func(w http.ResponseWriter, r *http.Request, s *session)

// action wraps a POST: it needs a session and the session's CSRF token in
// the form, or it is refused (403) without doing anything.
func (c *Console) action(fn actionFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			c.render(w, http.StatusRequestEntityTooLarge, "done", frame{Title: "Refused", Error: "the form is too large or malformed"})
			return
		}
		s := c.auth.lookup(r)
		if s == nil {
			c.render(w, http.StatusForbidden, "done", frame{Title: "Refused", Error: "log in first: actions need a logged-in operator"})
			return
		}
		if !sameToken(r.PostForm.Get(csrfField), s.csrf) {
			c.render(w, http.StatusForbidden, "done", frame{Title: "Refused", User: s.user, CSRF: s.csrf,
				Error: "refused: the form's CSRF token is missing or wrong (reload the page and try again)"})
			return
		}
		fn(w, r, s)
	}
}
