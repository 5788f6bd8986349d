package reconcile_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
	"github.com/insightpulse/pulsehub/services/ingester/reconcile"
)

// The client signs every request with the App's JWT, redirected ones too:
// it follows a redirect within the API's host, never to another host.
func TestTheAppsJWTDoesNotFollowARedirectToAnotherHost(t *testing.T) {
	key := githubtest.New(t, appID).KeyPEM
	var mu sync.Mutex
	var stolen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		stolen = append(stolen, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = w.Write([]byte("[]"))
	}))
	defer other.Close()
	elsewhere := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	var sameHost []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/moved/"):
			mu.Lock()
			sameHost = append(sameHost, r.Header.Get("Authorization"))
			mu.Unlock()
			_, _ = w.Write([]byte("[]"))
		case r.URL.Query().Get("cursor") == "same-host":
			http.Redirect(w, r, "/moved"+r.URL.Path, http.StatusFound)
		default:
			http.Redirect(w, r, elsewhere+r.URL.Path, http.StatusTemporaryRedirect)
		}
	}))
	defer api.Close()
	c, err := reconcile.NewClient(appID, key, api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Apps.ListHookDeliveries(t.Context(), &github.ListCursorOptions{Cursor: "elsewhere"}); err == nil ||
		!strings.Contains(err.Error(), "not followed") {
		t.Errorf("a redirect to another host: err = %v", err)
	}
	if _, _, err := c.Apps.ListHookDeliveries(t.Context(), &github.ListCursorOptions{Cursor: "same-host"}); err != nil {
		t.Errorf("a redirect within the API: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(stolen) != 0 {
		t.Fatalf("another host got %d requests, with Authorization %q", len(stolen), stolen)
	}
	if len(sameHost) != 1 || !strings.HasPrefix(sameHost[0], "Bearer ") {
		t.Fatalf("the same-host redirect: %q", sameHost)
	}
}
