package reconcile

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v60/github"
)

// DefaultBaseURL is GitHub's REST API.
const DefaultBaseURL = "https://api.github.com/"

// CheckKey reports whether pem is an RSA private key GitHub App JWTs can
// be signed with. The error never quotes the key.
func CheckKey(pem []byte) error {
	if _, err := jwt.ParseRSAPrivateKeyFromPEM(pem); err != nil {
		return fmt.Errorf("not a PEM-encoded RSA private key (download one from the App's settings page)")
	}
	return nil
}

// NewClient is a GitHub REST client authenticated as the App itself: every
// request carries a fresh JWT signed with the App's private key
// (ghinstallation's apps transport), which is what the App webhook
// delivery endpoints require. baseURL "" is api.github.com; a GitHub
// Enterprise Server is https://<host>/api/v3/.
func NewClient(appID int64, privateKeyPEM []byte, baseURL string, base http.RoundTripper) (*github.Client, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	tr, err := ghinstallation.NewAppsTransport(base, appID, privateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("github app %d: %w", appID, CheckKey(privateKeyPEM))
	}
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if !strings.HasSuffix(baseURL, "/") {
		baseURL += "/"
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("github app %d: base_url %q is not a URL", appID, baseURL)
	}
	tr.BaseURL = strings.TrimSuffix(baseURL, "/")
	c := github.NewClient(&http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: sameHostOnly})
	c.BaseURL = u
	return c, nil
}

// sameHostOnly follows a redirect only to the API's own scheme and host.
// The apps transport signs every request it sends, redirected ones
// included, so a redirect to another host would carry the App's JWT there
// (Go drops Authorization on such a redirect only when the caller set it,
// not when a transport adds it); GitHub redirects within the API (a
// renamed repository) on the same host.
func sameHostOnly(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	from := via[0].URL
	if req.URL.Host != from.Host || req.URL.Scheme != from.Scheme {
		return fmt.Errorf("redirect from %s to %s://%s not followed: it would carry the App's credentials to another host", from.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}
