package ingester_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
)

const (
	secret    = "It's a Secret to Everybody"
	oldSecret = "the secret before the rotation"
)

// githubConfig has GitHub on with the current and the previous secret.
func githubConfig() ingester.Config {
	cfg := ingester.DefaultConfig()
	cfg.GitHub.WebhookSecrets = []config.Secret{config.NewSecret(secret), config.NewSecret(oldSecret)}
	return cfg
}

// delivery is the headers GitHub sends with body.
func delivery(event, guid, sec, contentType string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", guid)
	h.Set("X-GitHub-Hook-ID", "109948940")
	h.Set("Content-Type", contentType)
	h.Set("User-Agent", "GitHub-Hookshot/abc123")
	if sec != "" {
		h.Set(githubhook.SignatureHeader, githubhook.SignatureValue(sec, body))
	}
	return h
}

type fixture struct {
	event, action, path string
}

// fixtures lists every payload under testdata/github with its event
// (the folder) and action (the payload's, or none).
func fixtures(t *testing.T) []fixture {
	t.Helper()
	paths, err := filepath.Glob("../testdata/github/*/*.json")
	if err != nil || len(paths) < 80 {
		t.Fatalf("fixtures: %d files, %v", len(paths), err)
	}
	var out []fixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Action string `json:"action"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, fixture{event: filepath.Base(filepath.Dir(p)), action: v.Action, path: p})
	}
	return out
}

func TestEveryGitHubFixtureIsStoredByteForByteOnItsSubject(t *testing.T) {
	n := ingesttest.StartNATS(t)
	ing := ingesttest.Serve(t, n, githubConfig())
	_, js := n.Client(t)
	fs := fixtures(t)
	for i, f := range fs {
		body, _ := os.ReadFile(f.path)
		guid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		code, answer := ing.Post(t, "/github", delivery(f.event, guid, secret, "application/json", body), body)
		want := http.StatusAccepted
		if f.event == "ping" {
			want = http.StatusOK
		}
		if code != want {
			t.Fatalf("%s: status %d %s", f.path, code, answer)
		}
		if err := schemas.Validate("ingest-accepted", answer); err != nil {
			t.Fatalf("%s: answer %s: %v", f.path, answer, err)
		}
	}
	msgs := ingesttest.Messages(t, js, events.StreamGitHub)
	if len(msgs) != len(fs) {
		t.Fatalf("stored %d messages for %d fixtures", len(msgs), len(fs))
	}
	for i, f := range fs {
		m := msgs[i]
		body, _ := os.ReadFile(f.path)
		if m.Subject != events.GitHubSubject(f.event, f.action) {
			t.Errorf("%s: subject %s", f.path, m.Subject)
		}
		if !bytes.Equal(m.Data, body) {
			t.Errorf("%s: stored body differs from the delivery", f.path)
		}
		assertEnvelope(t, f, m.Header)
	}
}

func assertEnvelope(t *testing.T, f fixture, h map[string][]string) {
	t.Helper()
	flat := map[string]string{}
	for k, v := range h {
		flat[k] = v[0]
	}
	doc, _ := json.Marshal(flat)
	if err := schemas.Validate("envelope", doc); err != nil {
		t.Errorf("%s: envelope: %v", f.path, err)
	}
	wantType := "com.github." + f.event
	if f.action != "" {
		wantType += "." + f.action
	}
	if flat["ce-type"] != wantType || flat["ce-id"] != flat["Nats-Msg-Id"] || flat["ce-id"] != flat["GitHub-Delivery"] ||
		flat["ce-correlationid"] != flat["ce-id"] || flat["GitHub-Event"] != f.event || flat["GitHub-Hook-Id"] != "109948940" ||
		flat["content-type"] != "application/json" {
		t.Errorf("%s: headers %v", f.path, flat)
	}
	var p struct {
		Repository *struct {
			HTMLURL  string `json:"html_url"`
			FullName string `json:"full_name"`
		} `json:"repository"`
		Installation *struct {
			ID int64 `json:"id"`
		} `json:"installation"`
	}
	body, _ := os.ReadFile(f.path)
	_ = json.Unmarshal(body, &p)
	if p.Repository != nil && (flat["ce-source"] != p.Repository.HTMLURL || flat["GitHub-Repository"] != p.Repository.FullName) {
		t.Errorf("%s: source %q repository %q", f.path, flat["ce-source"], flat["GitHub-Repository"])
	}
	if p.Installation != nil && flat["GitHub-Installation-Id"] != fmt.Sprint(p.Installation.ID) {
		t.Errorf("%s: installation header %q", f.path, flat["GitHub-Installation-Id"])
	}
}

func TestGitHubRefusals(t *testing.T) {
	n := ingesttest.StartNATS(t)
	cfg := githubConfig()
	cfg.GitHub.MaxBodyBytes = 64 << 10
	ing := ingesttest.Serve(t, n, cfg)
	_, js := n.Client(t)
	body, _ := os.ReadFile("../testdata/github/issues/opened.payload.json")
	big := append([]byte(`{"action":"opened","pad":"`), bytes.Repeat([]byte("x"), 70<<10)...)
	big = append(big, `"}`...)
	guid := "11111111-1111-4111-8111-111111111111"
	withoutHeader := func(name string) http.Header {
		h := delivery("issues", guid, secret, "application/json", body)
		h.Del(name)
		return h
	}
	cases := []struct {
		name   string
		header http.Header
		body   []byte
		status int
		reason string
	}{
		{"no signature", delivery("issues", guid, "", "application/json", body), body, 401, "signature"},
		{"wrong secret", delivery("issues", guid, "not the secret", "application/json", body), body, 401, "signature"},
		{"signature of another body", delivery("issues", guid, secret, "application/json", []byte(`{}`)), body, 401, "signature"},
		{"sha1 signature only", withoutHeader(githubhook.SignatureHeader), body, 401, "signature"},
		{"no event header", withoutHeader("X-GitHub-Event"), body, 400, "X-GitHub-Event"},
		{"no delivery header", withoutHeader("X-GitHub-Delivery"), body, 400, "X-GitHub-Delivery"},
		{"event with a dot", delivery("issues.opened", guid, secret, "application/json", body), body, 400, "X-GitHub-Event"},
		{"delivery id with spaces", delivery("issues", "a b", secret, "application/json", body), body, 400, "X-GitHub-Delivery"},
		{"malformed JSON", delivery("issues", guid, secret, "application/json", []byte(`{"action":`)), []byte(`{"action":`), 400, "malformed"},
		{"JSON array", delivery("issues", guid, secret, "application/json", []byte(`[1]`)), []byte(`[1]`), 400, "malformed"},
		{"JSON null", delivery("issues", guid, secret, "application/json", []byte(`null`)), []byte(`null`), 400, "malformed"},
		{"form without payload", delivery("issues", guid, secret, githubhook.ContentForm, []byte(`x=1`)), []byte(`x=1`), 400, "payload"},
		{"form with malformed payload", delivery("issues", guid, secret, githubhook.ContentForm, []byte(`payload=%7B`)), []byte(`payload=%7B`), 400, "malformed"},
		{"text body", delivery("issues", guid, secret, "text/plain", body), body, 415, "Content-Type"},
		{"over the limit", delivery("issues", guid, secret, "application/json", big), big, 413, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, answer := ing.Post(t, "/github", c.header, c.body)
			if code != c.status || !strings.Contains(string(answer), c.reason) {
				t.Fatalf("status %d %s, want %d with %q", code, answer, c.status, c.reason)
			}
		})
	}
	if got := ingesttest.Count(t, js, events.StreamGitHub); got != 0 {
		t.Fatalf("%d messages stored after refusals", got)
	}
	logs := ing.Log.String()
	if strings.Contains(logs, secret) || strings.Contains(logs, `\"action\"`) {
		t.Fatal("a log line holds the secret or a body")
	}
	if !strings.Contains(logs, `"outcome":"bad_signature"`) || !strings.Contains(logs, `"correlation_id":"`+guid+`"`) {
		t.Fatalf("refusals not logged with outcome and correlation id:\n%s", logs)
	}
}

func TestGitHubOversizeIsRefusedWithoutContentLength(t *testing.T) {
	n := ingesttest.StartNATS(t)
	cfg := githubConfig()
	cfg.GitHub.MaxBodyBytes = 1 << 10
	ing := ingesttest.Serve(t, n, cfg)
	body := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 4<<10)...)
	req, _ := http.NewRequest(http.MethodPost, ing.URL+"/github", struct{ *bytes.Reader }{bytes.NewReader(body)})
	req.Header = delivery("push", "22222222-2222-4222-8222-222222222222", secret, "application/json", body)
	req.ContentLength = -1 // chunked: the limit is found while reading
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, js := n.Client(t)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || ingesttest.Count(t, js, events.StreamGitHub) != 0 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestGitHubRotatedSecretFormBodyAndDuplicateDelivery(t *testing.T) {
	n := ingesttest.StartNATS(t)
	ing := ingesttest.Serve(t, n, githubConfig())
	_, js := n.Client(t)
	payload, _ := os.ReadFile("../testdata/github/issues/opened.payload.json")
	form := []byte("payload=" + url.QueryEscape(string(payload)))
	guid := "33333333-3333-4333-8333-333333333333"

	code, first := ing.Post(t, "/github", delivery("issues", guid, oldSecret, githubhook.ContentForm, form), form)
	if code != http.StatusAccepted {
		t.Fatalf("form body signed with the previous secret: %d %s", code, first)
	}
	code, again := ing.Post(t, "/github", delivery("issues", guid, secret, githubhook.ContentForm, form), form)
	var a, b struct {
		ID        string
		Seq       uint64
		Duplicate bool
	}
	_ = json.Unmarshal(first, &a)
	_ = json.Unmarshal(again, &b)
	if code != http.StatusAccepted || a.Duplicate || !b.Duplicate || a.Seq != b.Seq || b.ID != guid {
		t.Fatalf("redelivery: %d first %s again %s", code, first, again)
	}
	msgs := ingesttest.Messages(t, js, events.StreamGitHub)
	if len(msgs) != 1 || !bytes.Equal(msgs[0].Data, form) || msgs[0].Subject != "github.issues.opened" ||
		msgs[0].Header.Get("content-type") != githubhook.ContentForm {
		t.Fatalf("stored %d messages: %+v", len(msgs), msgs)
	}
}

func TestGitHubOnlyTakesPost(t *testing.T) {
	n := ingesttest.StartNATS(t)
	ing := ingesttest.Serve(t, n, githubConfig())
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, ing.URL+"/github", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Fatalf("%s /github: %d", method, resp.StatusCode)
		}
	}
}

func TestGitHubAnswers503AndStoresNothingWhileNATSIsDown(t *testing.T) {
	n := ingesttest.StartNATS(t)
	ing := ingesttest.Serve(t, n, githubConfig())
	body, _ := os.ReadFile("../testdata/github/push/payload.json")
	guid := "44444444-4444-4444-8444-444444444444"

	n.Stop()
	natstest.WaitFor(t, 10*time.Second, "the ingester to notice NATS is gone", func() bool { return !ing.Deps.Conn.IsConnected() })
	code, answer := ing.Post(t, "/github", delivery("push", guid, secret, "application/json", body), body)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("NATS down: %d %s", code, answer)
	}
	health, err := http.Get(ing.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	health.Body.Close()
	if health.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/health with NATS down: %d", health.StatusCode)
	}

	n.Restart()
	natstest.WaitFor(t, 20*time.Second, "the ingester to reconnect", ing.Deps.Conn.IsConnected)
	_, js := n.Client(t)
	if got := ingesttest.Count(t, js, events.StreamGitHub); got != 0 {
		t.Fatalf("%d messages stored from a delivery answered 503", got)
	}
	code, answer = ing.Post(t, "/github", delivery("push", guid, secret, "application/json", body), body)
	if code != http.StatusAccepted || ingesttest.Count(t, js, events.StreamGitHub) != 1 {
		t.Fatalf("after the restart: %d %s", code, answer)
	}
}

func TestGitHubTimeoutWithoutPubAckIs503(t *testing.T) {
	n := ingesttest.StartNATS(t)
	cfg := githubConfig()
	cfg.GitHub.PublishTimeout = 50 * time.Millisecond
	ing := ingesttest.Serve(t, n, cfg)
	_, js := n.Client(t)
	// A subject outside every stream gets no PubAck at all: the same as a
	// JetStream that does not answer in time.
	if err := js.DeleteStream(t.Context(), events.StreamGitHub); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	code, answer := ing.Post(t, "/github", delivery("ping", "55555555-5555-4555-8555-555555555555", secret, "application/json", body), body)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(answer), "try again later") {
		t.Fatalf("no PubAck: %d %s", code, answer)
	}
}

func TestGitHubInsecureModeAcceptsUnsignedDeliveriesLoudly(t *testing.T) {
	n := ingesttest.StartNATS(t)
	cfg := ingester.DefaultConfig()
	cfg.GitHub.InsecureSkipSignature = true
	cfg.GitHub.WebhookSecrets = []config.Secret{config.NewSecret(secret)}
	ing := ingesttest.Serve(t, n, cfg)
	body := []byte(`{"zen":"Practicality beats purity."}`)
	if code, answer := ing.Post(t, "/github", delivery("ping", "66666666-6666-4666-8666-666666666666", "", "application/json", body), body); code != http.StatusOK {
		t.Fatalf("unsigned in insecure mode: %d %s", code, answer)
	}
	// A signature that is there is still checked.
	if code, _ := ing.Post(t, "/github", delivery("ping", "77777777-7777-4777-8777-777777777777", "wrong", "application/json", body), body); code != http.StatusUnauthorized {
		t.Fatalf("wrong signature in insecure mode: %d", code)
	}
	logs := ing.Log.String()
	if strings.Count(logs, "INSECURE") != 1 || !strings.Contains(logs, "accepting an UNSIGNED GitHub delivery") {
		t.Fatalf("insecure mode not logged at start and per delivery:\n%s", logs)
	}
}
