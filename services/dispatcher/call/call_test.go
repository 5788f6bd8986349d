package call

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
)

func TestAnswersAreClassified(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		ctype      string
		body       string
		header     map[string]string
		mode       string
		kind       string // "" = success
		retryAfter time.Duration
		response   string
		inError    []string
	}{
		{name: "json", status: 200, ctype: "application/json", body: `{"a":1}`, response: `{"a":1}`},
		{name: "json suffix", status: 201, ctype: "application/problem+json", body: ` [1] `, response: `[1]`},
		{name: "empty", status: 204, response: ""},
		{name: "text kept as a string", status: 200, ctype: "text/plain", body: "hi \"you\"", response: `"hi \"you\""`},
		{name: "text mode ignores the content type", status: 200, ctype: "application/json", body: "{", mode: ResponseText, response: `"{"`},
		{name: "bad json said to be json", status: 200, ctype: "application/json", body: "{nope", kind: "permanent", inError: []string{"not valid JSON", "{nope"}},
		{name: "json expected, html came", status: 200, ctype: "text/html", body: "<p>", mode: ResponseJSON, kind: "permanent", inError: []string{"200 OK", "<p>"}},
		{name: "500", status: 500, body: "boom", kind: "transient", inError: []string{"500 Internal Server Error", "boom"}},
		{name: "503 with retry-after", status: 503, header: map[string]string{"Retry-After": "7"}, kind: "transient", retryAfter: 7 * time.Second},
		{name: "429 with retry-after", status: 429, header: map[string]string{"Retry-After": "2"}, kind: "transient", retryAfter: 2 * time.Second},
		{name: "408", status: 408, kind: "transient", inError: []string{"(empty answer)"}},
		{name: "400", status: 400, body: `{"error":"bad"}`, kind: "permanent", inError: []string{"400 Bad Request", `{"error":"bad"}`}},
		{name: "404", status: 404, kind: "permanent"},
		{name: "422 ignores retry-after", status: 422, header: map[string]string{"Retry-After": "5"}, kind: "permanent"},
		{name: "redirect without location", status: 302, kind: "permanent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			ans, err := Do(context.Background(), srv.Client(), Request{URL: srv.URL + "/x?token=secret", Body: []byte(`{}`), Response: tc.mode})
			if ans.Status != tc.status {
				t.Fatalf("status %d", ans.Status)
			}
			if tc.kind == "" {
				if err != nil || string(ans.Response) != tc.response {
					t.Fatalf("answer %s, err %v", ans.Response, err)
				}
				return
			}
			if err == nil || events.Classify(err).String() != tc.kind {
				t.Fatalf("err %v, want %s", err, tc.kind)
			}
			if events.RetryAfterOf(err) != tc.retryAfter {
				t.Fatalf("retry after %s, want %s", events.RetryAfterOf(err), tc.retryAfter)
			}
			for _, s := range append(tc.inError, "POST http://127.0.0.1") {
				if !strings.Contains(err.Error(), s) {
					t.Fatalf("error %q lacks %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the query: %v", err)
			}
		})
	}
}

func TestRequestHeadersAndBody(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, mustRead(r.Body)
	}))
	defer srv.Close()
	_, err := Do(context.Background(), srv.Client(), Request{Method: "put", URL: srv.URL + "/p", Body: []byte(`{"x":1}`),
		IdempotencyKey: "k", CorrelationID: "c", TraceParent: "00-aa-bb-01", AuthHeader: "X-Api-Key", Auth: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Idempotency-Key": "k", "X-Correlation-Id": "c", "Traceparent": "00-aa-bb-01", "X-Api-Key": "s3cret",
		"Content-Type": "application/json", "User-Agent": "pulsehub-dispatcher"}
	for k, v := range want {
		if got.Header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Header.Get(k), v)
		}
	}
	if got.Method != http.MethodPut || got.URL.Path != "/p" || string(body) != `{"x":1}` {
		t.Fatalf("%s %s %s", got.Method, got.URL, body)
	}
	if _, err := Do(context.Background(), srv.Client(), Request{Method: http.MethodGet, URL: srv.URL, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if got.Header.Get("Content-Type") != "" || got.Header.Get("Idempotency-Key") != "" {
		t.Fatalf("GET carried %v", got.Header)
	}
}

func mustRead(r io.Reader) []byte {
	b, _ := io.ReadAll(r)
	return b
}

func TestTransportFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	_, err = Do(context.Background(), http.DefaultClient, Request{URL: refused})
	if err == nil || events.IsPermanent(err) || !events.IsNetworkError(err) {
		t.Fatalf("refused: %v", err)
	}

	stuck := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stuck)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = Do(ctx, srv.Client(), Request{URL: srv.URL})
	if err == nil || events.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("timeout: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = Do(ctx, srv.Client(), Request{URL: srv.URL})
	var e *events.Error
	if !errors.Is(err, context.Canceled) || errors.As(err, &e) {
		t.Fatalf("cancelled: %v (must not be classified: it is our shutdown)", err)
	}
	if _, err := Do(context.Background(), srv.Client(), Request{URL: "http://[::1"}); !events.IsPermanent(err) {
		t.Fatalf("bad url: %v", err)
	}
}

func TestAnswerTooLongIsPermanent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `"`+strings.Repeat("a", 100)+`"`)
	}))
	defer srv.Close()
	_, err := Do(context.Background(), srv.Client(), Request{URL: srv.URL, MaxResponseBytes: 50})
	if !events.IsPermanent(err) || !strings.Contains(err.Error(), "longer than 50 bytes") {
		t.Fatalf("err = %v", err)
	}
	if ans, err := Do(context.Background(), srv.Client(), Request{URL: srv.URL, MaxResponseBytes: 102}); err != nil || len(ans.Response) != 102 {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 10 ":                          10 * time.Second,
		"0":                             0,
		"-4":                            0,
		"soon":                          0,
		"999999":                        24 * time.Hour,
		"Sun, 22 Nov 2026 05:00:30 GMT": 30 * time.Second,
		"Sun, 22 Nov 2026 04:00:00 GMT": 0,
	}
	for v, want := range tests {
		if got := RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}
