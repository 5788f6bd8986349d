package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
)

// The requests of the hostile-input suite (hostile_test.go): normal ones,
// and the makers of the table's requests.

// hostile is the suite's hub and its clients.
type hostile struct {
	h       *Hub
	logs    *natstest.LogBuffer // the services' log
	users   *natstest.Users     // the hub's NATS users
	unknown *natstest.Users     // nkeys the server does not know
	addr    string              // the ingester's host:port
	push    []byte              // a normal delivery's body (testdata/github/push)
	client  *http.Client        // a new connection per request, so that an attack on connections shows in the latency
	seq     atomic.Int64        // numbers GUIDs and Odoo record ids
}

// newClient makes requests on loopback only, each on a new connection,
// and follows no redirect (a redirect is an answer the suite checks).
func newClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func readFixture(path string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", "github", path))
}

// guid is a fresh delivery GUID.
func (s *hostile) guid() string { return fmt.Sprintf("e2e0%04d-4057-4000-8000-%012d", 0, s.seq.Add(1)) }

// signed are the headers of a normal delivery of body as event.
func (s *hostile) signed(event string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", s.guid())
	h.Set("X-GitHub-Hook-ID", "4242")
	h.Set(githubhook.SignatureHeader, sig256(body))
	return h
}

// post sends one request: its status, or how it ended without one.
func (s *hostile) post(ctx context.Context, path string, h http.Header, body []byte) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.h.Ingester+path, strings.NewReader(string(body)))
	if err != nil {
		return "request: " + err.Error()
	}
	req.Header = h
	resp, err := s.client.Do(req)
	if err != nil {
		return ended(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return strconv.Itoa(resp.StatusCode)
}

// legit sends a normal signed GitHub delivery, or with odoo a normal Odoo
// webhook: its answer and how long it took.
func (s *hostile) legit(ctx context.Context, odoo bool) (string, time.Duration) {
	start := time.Now()
	if odoo {
		body := fmt.Appendf(nil, `{"_action":"Send Webhook Notification(#7)","_id":%d,"_model":"res.partner","name":"Deco Addict","write_date":"2026-11-22 05:14:39"}`, s.seq.Add(1))
		h := http.Header{"Content-Type": {"application/json"}}
		return s.post(ctx, "/odoo/"+anySource+"/"+anyToken, h, body), time.Since(start)
	}
	return s.post(ctx, "/github", s.signed("push", s.push), s.push), time.Since(start)
}

// ended says how a request ended without an answer.
func ended(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return "no answer by the deadline"
	}
	return "closed"
}

// edit changes a request's headers; body is the request's body.
type edit func(h http.Header, body []byte)

func without(k string) edit { return func(h http.Header, _ []byte) { h.Del(k) } }

func with(k, v string) edit { return func(h http.Header, _ []byte) { h.Set(k, v) } }

// signature sets X-Hub-Signature-256 to sig(body).
func signature(sig func(body []byte) string) edit {
	return func(h http.Header, body []byte) { h.Set(githubhook.SignatureHeader, sig(body)) }
}

// ghPost is a normal delivery of body as event (signed, a fresh GUID),
// changed by edits.
func ghPost(event string, body []byte, edits ...edit) func(context.Context, *hostile) answer {
	return func(ctx context.Context, s *hostile) answer {
		h := s.signed(event, body)
		for _, e := range edits {
			e(h, body)
		}
		return answer{got: s.post(ctx, "/github", h, body)}
	}
}

// odooPost is an Odoo webhook call of body to path.
func odooPost(path string, body []byte) func(context.Context, *hostile) answer {
	return odooPostType(path, "application/json", body)
}

func odooPostType(path, contentType string, body []byte) func(context.Context, *hostile) answer {
	return func(ctx context.Context, s *hostile) answer {
		return answer{got: s.post(ctx, path, http.Header{"Content-Type": {contentType}}, body)}
	}
}

// rawDelivery is a delivery of body signed with the webhook secret, as
// bytes: the request line and the header lines as given (each ending in
// CRLF), then its content type, signature and length.
func rawDelivery(requestLine, headers string, body []byte) string {
	return requestLine + "\r\n" + headers + "Content-Type: application/json\r\n" +
		githubhook.SignatureHeader + ": " + sig256(body) + "\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + string(body)
}

// raw writes request on a new connection, in one write, and reads up to
// n answers.
func raw(n int, request string) func(context.Context, *hostile) answer {
	return func(ctx context.Context, s *hostile) answer {
		return answer{got: s.exchange(ctx, n, func(w io.Writer) error {
			_, err := io.WriteString(w, request)
			return err
		})}
	}
}

// exchange dials the ingester, writes with write in the background (the
// hub may answer before it has read everything), and reads up to n
// answers (see answers).
func (s *hostile) exchange(ctx context.Context, n int, write func(w io.Writer) error) string {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return "dial: " + err.Error()
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	var writer sync.WaitGroup
	defer writer.Wait()
	defer c.Close() // first: it ends a write still going
	writer.Go(func() { _ = write(c) })
	return answers(c, n)
}

// answers reads up to n answers from r: their statuses, then "closed"
// when the hub said it closes the connection (Connection: close) or
// ended it before the n-th.
func answers(r io.Reader, n int) string {
	br := bufio.NewReader(r)
	var got []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return strings.Join(append(got, ended(err)), " ")
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got = append(got, strconv.Itoa(resp.StatusCode))
		if resp.Close {
			return strings.Join(append(got, "closed"), " ")
		}
	}
	return strings.Join(got, " ")
}

// bigBody posts n bytes to path without a signature, announced with
// Content-Length or chunked (1 MiB chunks).
func bigBody(path string, n int, chunked bool) func(context.Context, *hostile) answer {
	return func(ctx context.Context, s *hostile) answer {
		got := s.exchange(ctx, 1, func(w io.Writer) error {
			head := "POST " + path + " HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n" +
				"X-GitHub-Delivery: e2e-big-body\r\n" + githubhook.SignatureHeader + ": sha256=" + strings.Repeat("0", 64) + "\r\n"
			if chunked {
				head += "Transfer-Encoding: chunked\r\n\r\n"
			} else {
				head += fmt.Sprintf("Content-Length: %d\r\n\r\n", n)
			}
			if _, err := io.WriteString(w, head); err != nil {
				return err
			}
			piece := []byte(strings.Repeat("z", 1<<20))
			for sent := 0; sent < n; sent += len(piece) {
				p := piece[:min(len(piece), n-sent)]
				if chunked {
					if _, err := fmt.Fprintf(w, "%x\r\n", len(p)); err != nil {
						return err
					}
				}
				if _, err := w.Write(p); err != nil {
					return err
				}
				if chunked {
					if _, err := io.WriteString(w, "\r\n"); err != nil {
						return err
					}
				}
			}
			if chunked {
				_, err := io.WriteString(w, "0\r\n\r\n")
				return err
			}
			return nil
		})
		return answer{got: got}
	}
}
