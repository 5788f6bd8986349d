package console

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
)

type emptySource struct{}

func (emptySource) View() page.View              { return page.View{} }
func (emptySource) History(string) []page.Sample { return nil }

func TestCookiesAreSecureUnderTLS(t *testing.T) {
	c, err := New(natstest.RunHub(t).JS, emptySource{}, slog.New(slog.DiscardHandler),
		Config{Enabled: true, Operators: map[string]Operator{"alice": {Password: config.NewSecret("twelve chars or more")}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(c.Handler())
	t.Cleanup(ts.Close)
	cl := ts.Client()
	cl.Jar, _ = cookiejar.New(nil)
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := cl.Get(ts.URL + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if tok == nil {
		t.Fatal("no token")
	}
	resp, err = cl.PostForm(ts.URL+"/console/login", url.Values{"csrf": {string(tok[1])}, "user": {"alice"}, "password": {"twelve chars or more"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			found = true
			if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie under TLS: %+v", ck)
			}
		}
	}
	if !found || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login under TLS: %s, session cookie set: %v", resp.Status, found)
	}
}

func TestNextStaysInTheConsole(t *testing.T) {
	for in, want := range map[string]string{"/console/jobs?state=dead": "/console/jobs?state=dead", "//evil.example/console/": "/console/",
		"https://evil.example/": "/console/", "/console/\\\\evil": "/console/", "": "/console/", "/console/x\r\nSet-Cookie: a=b": "/console/"} {
		if got := next(in); got != want {
			t.Errorf("next(%q) = %q, want %q", in, got, want)
		}
	}
}
