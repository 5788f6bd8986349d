package ingester_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
)

const budget = 3 << 20

// budgetConfig takes GitHub deliveries and Odoo's partners source (1 MiB
// limit) with a 3 MiB budget for bodies in flight.
func budgetConfig() ingester.Config {
	cfg := githubConfig()
	cfg.MaxInFlightBytes = budget
	cfg.OdooSources = map[string]ingester.OdooSource{"partners": {Token: config.NewSecret(token), Model: "res.partner"}}
	return cfg
}

// padded is a JSON body of exactly size bytes: prefix's fields plus a pad.
func padded(prefix string, size int) []byte {
	b := []byte(prefix + `,"pad":"`)
	b = append(b, bytes.Repeat([]byte("x"), size-len(b)-2)...)
	return append(b, `"}`...)
}

func githubBody(size int) []byte { return padded(`{"action":"opened"`, size) }

func odooBody(id, size int) []byte {
	return padded(fmt.Sprintf(`{"_id":%d,"_model":"res.partner"`, id), size)
}

func inFlight(t *testing.T, ing *ingesttest.Ingester) float64 {
	t.Helper()
	return ingesttest.Metric(t, ing.Deps.Registry, "pulsehub_ingester_body_bytes_in_flight", nil)
}

func waitInFlight(t *testing.T, ing *ingesttest.Ingester, want float64) {
	t.Helper()
	natstest.WaitFor(t, natstest.Wait, fmt.Sprintf("%v body bytes in flight", want), func() bool { return inFlight(t, ing) == want })
}

// client has its own connections (a test that cuts one leaves no broken
// connection in a shared pool) and waits for 100 Continue as long as it
// takes, so a request sent with Expect: 100-continue and refused is
// answered before its body is sent.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{ExpectContinueTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// held is a request whose body is partly sent: the ingester holds room
// for what arrived and waits for the rest.
type held struct {
	pw   *io.PipeWriter
	rest []byte
	done chan int // the status; 0 when the request failed on the client's side
}

// hold sends the first bytes of body (with its whole length announced).
func hold(t *testing.T, c *http.Client, url string, header http.Header, body []byte, first int) *held {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, url, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	req.ContentLength = int64(len(body))
	h := &held{pw: pw, rest: body[first:], done: make(chan int, 1)}
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			h.done <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h.done <- resp.StatusCode
	}()
	if _, err := pw.Write(body[:first]); err != nil {
		t.Fatalf("first %d bytes of the body: %v", first, err)
	}
	return h
}

// finish sends the rest of the body and returns the answer's status.
func (h *held) finish(t *testing.T) int {
	t.Helper()
	if _, err := h.pw.Write(h.rest); err != nil {
		t.Fatalf("rest of the body: %v", err)
	}
	h.pw.Close()
	return <-h.done
}

// disconnect drops the request halfway through its body.
func (h *held) disconnect() int {
	h.pw.CloseWithError(errors.New("client went away"))
	return <-h.done
}

// post sends body with headers through c and returns the status and answer.
func post(t *testing.T, c *http.Client, url string, header http.Header, body io.Reader, length int64) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	req.ContentLength = length
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func odooHeader(expect bool) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if expect {
		h.Set("Expect", "100-continue")
	}
	return h
}

func TestBodiesBeyondTheBudgetAre503WhileThoseWithinAreStored(t *testing.T) {
	n := ingesttest.StartNATS(t)
	ing := ingesttest.Serve(t, n, budgetConfig())
	_, js := n.Client(t)
	c := client(t)
	odoo := odooURL(ing, "partners", token)

	// 2 of a 2.5 MiB GitHub delivery and all but the last byte of a 1 MiB
	// Odoo event have arrived: their buffers (2 MiB and 1 MiB) fill the budget.
	big := githubBody(5 << 19)
	gh := hold(t, c, ing.URL+"/github", delivery("issues", "aaaaaaaa-0000-4000-8000-000000000001", secret, "application/json", big), big, 2<<20)
	odooEvent := odooBody(1, 1<<20)
	od := hold(t, c, odoo, odooHeader(false), odooEvent, len(odooEvent)-1)
	waitInFlight(t, ing, budget)

	// A 1 MiB delivery finds no room even for its first piece: 503 before its body is sent.
	oneMiB := githubBody(1 << 20)
	h := delivery("issues", "aaaaaaaa-0000-4000-8000-000000000002", secret, "application/json", oneMiB)
	h.Set("Expect", "100-continue")
	code, header, answer := post(t, c, ing.URL+"/github", h, bytes.NewReader(oneMiB), int64(len(oneMiB)))
	if code != http.StatusServiceUnavailable || header.Get("Retry-After") != "5" || !strings.Contains(answer, "too many request bodies at once") {
		t.Fatalf("over the budget: %d %v %s", code, header, answer)
	}
	// Nor does an Odoo body of unknown length.
	code, _, answer = post(t, c, odoo, odooHeader(true), struct{ io.Reader }{bytes.NewReader(odooBody(2, 100))}, -1)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("unknown length over the budget: %d %s", code, answer)
	}
	if code := od.finish(t); code != http.StatusAccepted {
		t.Fatalf("held Odoo event: %d", code)
	}
	waitInFlight(t, ing, 2<<20)
	// With the Odoo event stored, a 7 KB delivery fits.
	push, _ := os.ReadFile("../testdata/github/push/payload.json")
	if code, answer := ing.Post(t, "/github", delivery("push", "aaaaaaaa-0000-4000-8000-000000000003", secret, "application/json", push), push); code != http.StatusAccepted {
		t.Fatalf("within the budget: %d %s", code, answer)
	}
	if code := gh.finish(t); code != http.StatusAccepted {
		t.Fatalf("held GitHub delivery: %d", code)
	}
	if got := inFlight(t, ing); got != 0 {
		t.Fatalf("%v bytes still in flight after every answer", got)
	}

	// A body larger than the whole budget (within max_body_bytes) is served alone.
	huge := githubBody(budget + 1<<20)
	if code, answer := ing.Post(t, "/github", delivery("issues", "aaaaaaaa-0000-4000-8000-000000000004", secret, "application/json", huge), huge); code != http.StatusAccepted {
		t.Fatalf("a body over the budget, alone: %d %s", code, answer)
	}

	msgs := ingesttest.Messages(t, js, events.StreamGitHub)
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Header.Get(events.HeaderID))
	}
	want := "aaaaaaaa-0000-4000-8000-000000000003 aaaaaaaa-0000-4000-8000-000000000001 aaaaaaaa-0000-4000-8000-000000000004"
	if strings.Join(ids, " ") != want || ingesttest.Count(t, js, events.StreamOdoo) != 1 {
		t.Fatalf("stored GitHub %v (want %s) and %d Odoo events", ids, want, ingesttest.Count(t, js, events.StreamOdoo))
	}
	reg := ing.Deps.Registry
	busy := ingesttest.Metric(t, reg, "pulsehub_ingester_requests_total", map[string]string{"source": "github", "status": "503", "outcome": intake.OutcomeBusy}) +
		ingesttest.Metric(t, reg, "pulsehub_ingester_requests_total", map[string]string{"source": "odoo/partners", "status": "503", "outcome": intake.OutcomeBusy})
	if busy != 2 || ingesttest.Metric(t, reg, "pulsehub_ingester_body_budget_bytes", nil) != budget {
		t.Fatalf("%v busy answers counted", busy)
	}
	if !strings.Contains(ing.Log.String(), `"correlation_id":"aaaaaaaa-0000-4000-8000-000000000002","source":"github","method":"POST","route":"/github"`) ||
		!strings.Contains(ing.Log.String(), `"outcome":"busy"`) {
		t.Fatalf("the busy delivery is not logged with its GUID:\n%s", ing.Log.String())
	}
}

func TestTheBudgetIsReleasedWhateverTheAnswer(t *testing.T) {
	n := ingesttest.StartNATS(t)
	cfg := budgetConfig()
	cfg.GitHub.MaxBodyBytes = 2 << 20
	cfg.MaxInFlightBytes = 2 << 20
	cfg.MinBodyRateGrace = 500 * time.Millisecond // the stalled body is cut soon
	ing := ingesttest.Serve(t, n, cfg)
	c := client(t)
	odoo := odooURL(ing, "partners", token)
	body := githubBody(64 << 10)
	guid := "bbbbbbbb-0000-4000-8000-000000000001"
	gh := func(sec string) http.Header { return delivery("issues", guid, sec, "application/json", body) }
	tooLarge := githubBody(2<<20 + 1)
	announced := delivery("issues", guid, secret, "application/json", tooLarge)
	announced.Set("Expect", "100-continue") // refused before the body is sent, so the client sees the answer
	cases := []struct {
		name   string
		url    string
		header http.Header
		body   []byte
		length int64 // -1: unknown (chunked)
		status int
	}{
		{"stored", ing.URL + "/github", gh(secret), body, int64(len(body)), http.StatusAccepted},
		{"duplicate", ing.URL + "/github", gh(secret), body, int64(len(body)), http.StatusAccepted},
		{"bad signature", ing.URL + "/github", gh("wrong"), body, int64(len(body)), http.StatusUnauthorized},
		{"malformed", ing.URL + "/github", delivery("issues", guid, secret, "application/json", []byte(`{"a":`)), []byte(`{"a":`), 5, http.StatusBadRequest},
		{"over the limit, announced", ing.URL + "/github", announced, tooLarge, int64(len(tooLarge)), http.StatusRequestEntityTooLarge},
		{"over the limit, found while reading", ing.URL + "/github", delivery("issues", guid, secret, "application/json", tooLarge), tooLarge, -1, http.StatusRequestEntityTooLarge},
		{"odoo stored", odoo, odooHeader(false), odooBody(1, 4096), 4096, http.StatusAccepted},
		{"odoo wrong token", odooURL(ing, "partners", "wrong-token-0123456789"), odooHeader(false), odooBody(1, 4096), 4096, http.StatusNotFound},
		{"odoo not a webhook body", odoo, odooHeader(false), []byte(`{"x":1}`), -1, http.StatusBadRequest},
	}
	goods := 0
	good := func(t *testing.T) {
		t.Helper()
		goods++
		small := githubBody(7 << 10)
		h := delivery("issues", fmt.Sprintf("bbbbbbbb-1111-4000-8000-%012d", goods), secret, "application/json", small)
		if code, _, answer := post(t, c, ing.URL+"/github", h, bytes.NewReader(small), int64(len(small))); code != http.StatusAccepted {
			t.Fatalf("the delivery after: %d %s", code, answer)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(tc.body)
			if tc.length < 0 {
				r = struct{ io.Reader }{r} // hides the length: sent chunked
			}
			if code, _, answer := post(t, c, tc.url, tc.header, r, tc.length); code != tc.status {
				t.Fatalf("status %d %s, want %d", code, answer, tc.status)
			}
			if got := inFlight(t, ing); got != 0 {
				t.Fatalf("%v bytes still reserved after the answer", got)
			}
			good(t) // and the next delivery is stored
		})
	}

	t.Run("client disconnects mid-body", func(t *testing.T) {
		big := githubBody(1 << 20)
		h := hold(t, c, ing.URL+"/github", delivery("issues", "bbbbbbbb-0000-4000-8000-000000000002", secret, "application/json", big), big, 1<<19)
		waitInFlight(t, ing, 1<<19) // what arrived, not what was announced
		if code := h.disconnect(); code != 0 {
			t.Fatalf("a cut request got an answer: %d", code)
		}
		waitInFlight(t, ing, 0) // the server notices the cut on its own time
		good(t)
	})

	t.Run("body slower than the floor", func(t *testing.T) {
		big := githubBody(1 << 20)
		h := hold(t, c, ing.URL+"/github", delivery("issues", "bbbbbbbb-0000-4000-8000-000000000004", secret, "application/json", big), big, 100)
		if code := <-h.done; code != http.StatusRequestTimeout {
			t.Fatalf("a stalled body: %d, want 408", code)
		}
		if got := inFlight(t, ing); got != 0 {
			t.Fatalf("%v bytes still reserved after the 408", got)
		}
		good(t)
	})

	t.Run("NATS down", func(t *testing.T) {
		n.Stop()
		natstest.WaitFor(t, 10*time.Second, "the ingester to notice NATS is gone", func() bool { return !ing.Deps.Conn.IsConnected() })
		code, _, answer := post(t, c, ing.URL+"/github", gh(secret), bytes.NewReader(body), int64(len(body)))
		if code != http.StatusServiceUnavailable || inFlight(t, ing) != 0 {
			t.Fatalf("NATS down: %d %s, %v bytes in flight", code, answer, inFlight(t, ing))
		}
		n.Restart()
		natstest.WaitFor(t, 20*time.Second, "the ingester to reconnect", ing.Deps.Conn.IsConnected)
	})

	// The whole budget is free again: a body of exactly the budget is taken.
	whole := githubBody(2 << 20)
	if code, answer := ing.Post(t, "/github", delivery("issues", "bbbbbbbb-0000-4000-8000-000000000003", secret, "application/json", whole), whole); code != http.StatusAccepted {
		t.Fatalf("the whole budget after %d requests: %d %s", len(cases)+2, code, answer)
	}
}
