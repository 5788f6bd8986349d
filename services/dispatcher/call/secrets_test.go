package call

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
)

// A service that redirects elsewhere does not get the auth header sent
// there: the call does not follow the redirect (whatever the client's own
// policy), and fails for good saying where the service pointed.
func TestARedirectIsNotFollowedWithTheAuthHeader(t *testing.T) {
	const key = "redirect-key-7d2e91"
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var mu sync.Mutex
			var seen []http.Header
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Header.Clone())
				mu.Unlock()
			}))
			defer other.Close()
			// Another host: "localhost" rather than the 127.0.0.1 the service is on.
			elsewhere := strings.Replace(other.URL, "127.0.0.1", "localhost", 1) + "/steal?sig=abc"
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere, code)
			}))
			defer srv.Close()
			ans, err := Do(context.Background(), &http.Client{}, Request{URL: srv.URL + "/extract", Body: []byte(`{}`),
				AuthHeader: "X-Api-Key", Auth: key})
			if ans.Status != code || err == nil || !events.IsPermanent(err) {
				t.Fatalf("status %d, err %v: want a permanent failure", ans.Status, err)
			}
			want := "a redirect to " + strings.TrimSuffix(elsewhere, "?sig=abc") + ", not followed"
			if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "sig=abc") {
				t.Errorf("error %q lacks %q (or shows the query)", err, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 0 {
				t.Fatalf("the redirect was followed; the other host saw %v", seen)
			}
		})
	}
}

// A service that echoes the request's auth header and body in its error
// answer: the error (which becomes log lines, the job's last_error and the
// dead letter's reason) carries no trace of the secret.
func TestAnErrorAnswerEchoingTheAuthHeaderIsScrubbed(t *testing.T) {
	const token = "echo-token-c0ffee42"
	auth := config.NewSecret("Bearer " + token)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusInternalServerError)
		// A long answer with the echo at the 1 KiB cut: the snippet must not
		// show a piece of the token either.
		fmt.Fprintf(w, "%s you sent Authorization: %s and %s", strings.Repeat("x", snippetBytes-30), r.Header.Get("Authorization"), body)
	}))
	defer srv.Close()
	_, err := Do(context.Background(), srv.Client(), Request{URL: srv.URL, Body: []byte(`{"t":"` + token + `"}`),
		AuthHeader: "Authorization", Auth: auth.Value()})
	if err == nil || events.Classify(err).String() != "transient" {
		t.Fatalf("err %v, want transient", err)
	}
	for _, piece := range []string{token, token[:8], "c0ffee42"} {
		if strings.Contains(err.Error(), piece) {
			t.Fatalf("error shows %q: %s", piece, err)
		}
	}
	if !strings.Contains(err.Error(), "you sent Authorization: [re") {
		t.Errorf("error %q lacks the scrubbed echo", err)
	}
}

// A call that gets no answer says where it went without the URL's query,
// which may hold a token.
func TestATransportErrorDoesNotQuoteTheQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	refused := srv.URL
	srv.Close()
	_, err := Do(context.Background(), &http.Client{}, Request{URL: refused + "/extract?key=query-token-99"})
	if err == nil || !events.IsNetworkError(err) || strings.Contains(err.Error(), "query-token-99") ||
		!strings.Contains(err.Error(), "POST "+refused+"/extract") {
		t.Fatalf("err = %v", err)
	}
}
