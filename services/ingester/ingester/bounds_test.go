package ingester_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/nats-io/nats.go/jetstream"
)

// stillServes asserts that the ingester's NATS connection survived: its
// /health answers 200 and a normal request is stored.
func stillServes(t *testing.T, ing *ingesttest.Ingester, js jetstream.JetStream, stream string, want uint64, post func() (int, []byte)) {
	t.Helper()
	resp, err := http.Get(ing.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health %d after the refusals", resp.StatusCode)
	}
	if code, answer := post(); code != http.StatusAccepted {
		t.Fatalf("a normal request after the refusals: %d %s", code, answer)
	}
	if got := ingesttest.Count(t, js, stream); got != want {
		t.Fatalf("%d messages stored, want %d", got, want)
	}
}

// The attack of issue 13: a _model of ~4,060 characters made a subject
// over the server's 4 KiB control line, the server closed the connection
// and every delivery got 503 until a restart.
func TestOdooOverLongModelIs400AndTheNextDeliveryIsStored(t *testing.T) {
	_, ing, js := startOdoo(t)
	h := http.Header{"Content-Type": {"application/json"}}
	path := "/odoo/anything/" + token + "x" // a source that takes any model
	body := func(model string) []byte {
		b, _ := json.Marshal(map[string]any{"_id": 7, "_model": model, "write_date": "2026-11-22 05:14:39.350509"})
		return b
	}
	for _, n := range []int{4060, events.MaxNameLen + 1} {
		code, answer := ing.Post(t, path, h, body(strings.Repeat("x", n)))
		if code != http.StatusBadRequest || !strings.Contains(string(answer), "_model") || !strings.Contains(string(answer), "64") {
			t.Fatalf("model of %d characters: %d %s", n, code, answer)
		}
		if got := ingesttest.Count(t, js, events.StreamOdoo); got != 0 {
			t.Fatalf("model of %d characters: %d stored", n, got)
		}
	}
	// At the limit is taken.
	stillServes(t, ing, js, events.StreamOdoo, 1, func() (int, []byte) {
		return ing.Post(t, path, h, body(strings.Repeat("x", events.MaxNameLen)))
	})
	stillServes(t, ing, js, events.StreamOdoo, 2, func() (int, []byte) { return ing.Post(t, path, h, body("res.partner")) })
}

func TestGitHubOverLongNamesAre400AndTheNextDeliveryIsStored(t *testing.T) {
	n := ingesttest.StartNATS(t)
	ing := ingesttest.Serve(t, n, githubConfig())
	_, js := n.Client(t)
	guid := "22222222-2222-4222-8222-222222222222"
	withAction := func(action string) []byte {
		b, _ := json.Marshal(map[string]any{"action": action, "zen": "x"})
		return b
	}
	plain := withAction("opened")
	cases := []struct {
		name, event, guid string
		body              []byte
		reason            string
	}{
		{"event of 4,060 characters", strings.Repeat("e", 4060), guid, plain, "X-GitHub-Event"},
		{"event of 65 characters", strings.Repeat("e", events.MaxNameLen+1), guid, plain, "X-GitHub-Event"},
		{"delivery GUID of 4,060 characters", "issues", strings.Repeat("d", 4060), plain, "X-GitHub-Delivery"},
		{"delivery GUID of 129 characters", "issues", strings.Repeat("d", events.MaxIDLen+1), plain, "X-GitHub-Delivery"},
		{"action of 4,060 characters", "issues", guid, withAction(strings.Repeat("a", 4060)), "action is 4060 bytes long, the most is 64"},
		{"action of 65 characters", "issues", guid, withAction(strings.Repeat("a", events.MaxNameLen+1)), "action is 65 bytes long"},
		{"action of 65 bytes, 33 characters", "issues", guid, withAction(strings.Repeat("é", 32) + "a"), "action is 65 bytes long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, answer := ing.Post(t, "/github", delivery(c.event, c.guid, secret, "application/json", c.body), c.body)
			if code != http.StatusBadRequest || !strings.Contains(string(answer), c.reason) {
				t.Fatalf("%d %s, want 400 with %q", code, answer, c.reason)
			}
			if got := ingesttest.Count(t, js, events.StreamGitHub); got != 0 {
				t.Fatalf("%d stored", got)
			}
		})
	}
	// Every name at its limit, the action's every byte escaped: stored,
	// on a subject well within the limit.
	event, action, id := strings.Repeat("e", events.MaxNameLen), strings.Repeat("é", events.MaxNameLen/2), strings.Repeat("d", events.MaxIDLen)
	stillServes(t, ing, js, events.StreamGitHub, 1, func() (int, []byte) {
		b := withAction(action)
		return ing.Post(t, "/github", delivery(event, id, secret, "application/json", b), b)
	})
	m := ingesttest.Messages(t, js, events.StreamGitHub)[0]
	if m.Subject != events.GitHubSubject(event, action) || len(m.Subject) > events.MaxSubjectLen || m.Header.Get(events.HeaderMsgID) != id {
		t.Fatalf("stored on %q (%d bytes), Nats-Msg-Id %q", m.Subject, len(m.Subject), m.Header.Get(events.HeaderMsgID))
	}
	stillServes(t, ing, js, events.StreamGitHub, 2, func() (int, []byte) {
		return ing.Post(t, "/github", delivery("issues", guid, secret, "application/json", plain), plain)
	})
}
