package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Cookie names. The session cookie is HttpOnly, SameSite=Strict, scoped to
// /console/, and Secure when the console is served over TLS.
const (
	sessionCookie = "pulsehub_console"
	loginCookie   = "pulsehub_console_login" // the login form's CSRF token (double submit: there is no session yet)
	csrfField     = "csrf"
	maxSessions   = 10_000 // oldest dropped beyond this
	maxLimiterKey = 10_000 // addresses and accounts tracked by the login limiter
)

// session is one logged-in operator.
type session struct {
	user    string
	csrf    string
	expires time.Time
	notice  string // what the last action did, shown once on the next page
}

// flash keeps a notice for s's next page.
func (a *auth) flash(s *session, notice string) {
	a.mu.Lock()
	s.notice = notice
	a.mu.Unlock()
}

// popNotice returns and clears s's notice.
func (a *auth) popNotice(s *session) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := s.notice
	s.notice = ""
	return n
}

// auth holds the accounts (bcrypt hashes only), the sessions and the login
// limiter. Sessions live in memory: a restart logs everyone out.
type auth struct {
	hashes map[string][]byte
	dummy  []byte // compared against for an unknown account, so its answer takes as long
	ttl    time.Duration
	now    func() time.Time

	mu       sync.Mutex
	sessions map[string]*session
	limiter  limiter
}

func newAuth(c Config, now func() time.Time) (*auth, error) {
	a := &auth{hashes: map[string][]byte{}, ttl: c.SessionTTL, now: now, sessions: map[string]*session{},
		limiter: limiter{max: c.LoginAttempts, window: c.LoginWindow, fails: map[string]*window{}}}
	for name, op := range c.Operators {
		h, err := bcrypt.GenerateFromPassword([]byte(op.Password.Value()), bcrypt.DefaultCost)
		if err != nil {
			return nil, err
		}
		a.hashes[name] = h
	}
	var err error
	a.dummy, err = bcrypt.GenerateFromPassword([]byte("no such operator, no such password"), bcrypt.DefaultCost)
	return a, err
}

// check reports whether password is user's. It costs one bcrypt
// comparison whether or not the account exists.
func (a *auth) check(user, password string) bool {
	h, ok := a.hashes[user]
	if !ok {
		h = a.dummy
	}
	if len(password) > maxPassword {
		password = password[:maxPassword]
	}
	return bcrypt.CompareHashAndPassword(h, []byte(password)) == nil && ok
}

// start makes a session for user and returns its id.
func (a *auth) start(user string) (string, *session) {
	id := token()
	s := &session{user: user, csrf: token(), expires: a.now().Add(a.ttl)}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for k, v := range a.sessions {
		if now.After(v.expires) {
			delete(a.sessions, k)
		}
	}
	for k := range a.sessions {
		if len(a.sessions) < maxSessions {
			break
		}
		delete(a.sessions, k)
	}
	a.sessions[id] = s
	return id, s
}

// lookup returns the live session of r, or nil.
func (a *auth) lookup(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) != tokenLen {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s == nil {
		return nil
	}
	if a.now().After(s.expires) {
		delete(a.sessions, c.Value)
		return nil
	}
	return s
}

func (a *auth) end(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
}

// tokenLen is the length of a session id or CSRF token: 32 random bytes,
// base64url.
const tokenLen = 43

func token() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sameToken compares two tokens in constant time; an empty one never matches.
func sameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// limiter counts failed logins per key (a client address, an account) in
// fixed windows; a key over its budget is refused until its window ends.
type limiter struct {
	max    int
	window time.Duration
	fails  map[string]*window
}

type window struct {
	start time.Time
	n     int
}

// blocked reports whether key has no attempts left at now. The caller
// holds auth.mu.
func (l *limiter) blocked(key string, now time.Time) bool {
	w := l.fails[key]
	return w != nil && now.Sub(w.start) < l.window && w.n >= l.max
}

// fail counts a failed attempt of key. The caller holds auth.mu.
func (l *limiter) fail(key string, now time.Time) {
	w := l.fails[key]
	if w == nil || now.Sub(w.start) >= l.window {
		if w == nil && len(l.fails) >= maxLimiterKey {
			for k, v := range l.fails {
				if now.Sub(v.start) >= l.window {
					delete(l.fails, k)
				}
			}
			if len(l.fails) >= maxLimiterKey {
				return // full of live windows: bcrypt's cost still bounds the rate
			}
		}
		w = &window{start: now}
		l.fails[key] = w
	}
	w.n++
}

// allowed reports whether a login from r for user may be tried now.
func (a *auth) allowed(r *http.Request, user string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	return !a.limiter.blocked("addr:"+clientAddr(r), now) && !a.limiter.blocked("user:"+user, now)
}

func (a *auth) failed(r *http.Request, user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.limiter.fail("addr:"+clientAddr(r), now)
	a.limiter.fail("user:"+user, now)
}

// clientAddr is the host of the peer's address: a proxy in front of the
// console makes every operator one client, which the limit then counts
// together (it never trusts X-Forwarded-For, which a client can set).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
