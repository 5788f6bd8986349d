package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds what a probe reads of an answer: health bodies are small,
// a /metrics page is the largest thing read.
const maxBody = 4 << 20

// get fetches u and reads at most maxBody bytes of the answer.
func get(ctx context.Context, client *http.Client, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		// The parse error quotes the URL, which may hold credentials.
		return 0, nil, fmt.Errorf("GET %s: not a valid URL", redact(u))
	}
	req.Header.Set("User-Agent", "pulsehub-healthmon")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", redact(u), unwrapURLError(ctx, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("GET %s: reading the answer: %w", redact(u), unwrapURLError(ctx, err))
	}
	return resp.StatusCode, body, nil
}

// unwrapURLError drops the *url.Error wrapper (which repeats the URL,
// credentials included) and says plainly when the deadline ran out.
func unwrapURLError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within the probe's timeout: %w", context.DeadlineExceeded)
	}
	return err
}

// redact hides a password in a URL.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// answer is a timed 200 answer.
type answer struct {
	url   string // redacted, for messages
	body  []byte
	start time.Time
	took  time.Duration
}

// getOK GETs base+path, timed on clock, and insists on a 200 answer: for
// the endpoints of the hub's own services that list targets.
func getOK(ctx context.Context, client *http.Client, clock Clock, base, path string) (answer, error) {
	u := strings.TrimRight(base, "/") + path
	a := answer{url: redact(u), start: clock.Now()}
	code, body, err := get(ctx, client, u)
	a.took = clock.Now().Sub(a.start)
	if err != nil {
		return a, err
	}
	if code != http.StatusOK {
		return a, fmt.Errorf("GET %s: HTTP %d", a.url, code)
	}
	a.body = body
	return a, nil
}
