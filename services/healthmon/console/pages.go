package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
)

// LoginPage is the login form's data.
type LoginPage struct {
	Token string // the form's CSRF token (also in the login cookie)
	Next  string
	User  string
}

// next is where to go after logging in: a console path only, so the form
// cannot be made to send an operator to another site.
func next(s string) string {
	if !strings.HasPrefix(s, "/console/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") || len(s) > 512 {
		return "/console/"
	}
	return s
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	headers(w)
	c.showLogin(w, r, http.StatusOK, "", "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, user, msg string) {
	tok := token()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/console/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.tls, MaxAge: 600})
	c.render(w, status, "login", frame{Title: "Log in", Error: msg,
		Page: LoginPage{Token: tok, Next: next(r.FormValue("next")), User: clip(user, maxOperatorName)}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	headers(w)
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.render(w, http.StatusRequestEntityTooLarge, "done", frame{Title: "Refused", Error: "the form is too large or malformed"})
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostForm.Get(csrfField), ck.Value) {
		c.showLogin(w, r, http.StatusForbidden, "", "refused: the form's CSRF token is missing or wrong (reload the page and try again)")
		return
	}
	user, password := clipRaw(r.PostForm.Get("user"), maxOperatorName), clipRaw(r.PostForm.Get("password"), 1024)
	if !c.auth.allowed(r, user) {
		// Not audited: a brute force would flood the audit stream; the
		// limiter's refusals cost nothing.
		c.showLogin(w, r, http.StatusTooManyRequests, user, "too many failed logins: wait a minute and try again")
		return
	}
	if !c.auth.check(user, password) {
		c.auth.failed(r, user)
		c.showLogin(w, r, http.StatusUnauthorized, user, "wrong operator name or password")
		return
	}
	id, _ := c.auth.start(user)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/console/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.tls, MaxAge: int(c.cfg.SessionTTL / time.Second)})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/console/login", MaxAge: -1})
	c.audit(r.Context(), Audit{Operator: user, Action: "login", Target: user, Outcome: "ok", CorrelationID: events.NewID(), Client: clientAddr(r)})
	http.Redirect(w, r, next(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	c.auth.end(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/console/", MaxAge: -1})
	c.audit(r.Context(), Audit{Operator: s.user, Action: "logout", Target: s.user, Outcome: "ok", CorrelationID: events.NewID(), Client: clientAddr(r)})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

func (c *Console) overview(_ *http.Request, _ *session) (string, frame, int) {
	return "overview", frame{Title: "Overview", Nav: "overview", Page: c.src.View()}, http.StatusOK
}
