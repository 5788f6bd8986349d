package odoo_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
)

// An Odoo (or its proxy) that redirects does not get the credentials sent
// on: the XML-RPC password in the body (a 307 repeats it) and the JSON-2
// API key in the Authorization header stay where they were configured, and
// the call fails for good saying where Odoo pointed.
func TestARedirectIsNotFollowedWithTheCredentials(t *testing.T) {
	const secret = "redirect-odoo-key-5e1f"
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				seen = append(seen, r.Header.Get("Authorization")+" "+string(b))
				mu.Unlock()
			}))
			defer other.Close()
			elsewhere := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere+r.URL.Path, http.StatusTemporaryRedirect)
			}))
			defer srv.Close()
			c, err := odoo.New(odoo.Config{URL: srv.URL, Database: "db", Login: "bot", Password: config.NewSecret(secret), Transport: tr},
				odoo.WithHTTPClient(&http.Client{})) // a client of the caller's, which would follow redirects
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Authenticate(context.Background())
			if tr == odoo.TransportJSON2 {
				_, err = c.SearchCount(context.Background(), "res.partner", nil)
			}
			f := mustFault(t, err, false)
			if f.HTTPStatus != http.StatusTemporaryRedirect || !strings.Contains(f.Message, "a redirect to "+elsewhere+"/") ||
				!strings.Contains(f.Message, "not followed") {
				t.Errorf("fault = %v", f)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 0 {
				t.Fatalf("the redirect was followed: the other host got %q", seen)
			}
		})
	}
}
