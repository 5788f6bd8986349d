package githubhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
)

const fuzzSecret = "fuzz secret"

// FuzzHandler sends arbitrary deliveries to the handler in front of a real
// JetStream: it must never panic, never answer 2xx to a delivery that is
// not signed with the secret, store something only when it answers 2xx,
// store it only on a subject within the hub's limits (no token longer
// than a name within its limit makes, the subject within
// events.MaxSubjectLen, Nats-Msg-Id within events.MaxIDLen), and give back
// the room its body held in the budget.
//
//	go test -run '^$' -fuzz FuzzHandler -fuzztime 60s -fuzzminimizetime 100x -parallel 1 ./githubhook
func FuzzHandler(f *testing.F) {
	push, _ := os.ReadFile("../testdata/github/push/payload.json")
	f.Add("push", "d1", "application/json", uint8(1), "", push)
	f.Add("push", "d2", "application/json", uint8(0), "", push)
	f.Add("issues", "d3", "application/x-www-form-urlencoded", uint8(1), "", []byte("payload=%7B%22action%22%3A%22opened%22%7D"))
	f.Add("ping", "d4", "application/json", uint8(2), "sha256=00", []byte(`{"zen":"x"}`))
	f.Add("", "", "", uint8(1), "", []byte(`{`))
	f.Add("a.b", "\x00", "text/plain; charset=\xff", uint8(2), "sha256=", []byte(`null`))
	f.Add(strings.Repeat("e", 64), strings.Repeat("d", 128), "application/json", uint8(1), "", []byte(`{"action":"`+strings.Repeat("é", 32)+`"}`))
	f.Add(strings.Repeat("e", 65), "d5", "application/json", uint8(1), "", []byte(`{"action":"opened"}`))
	f.Add("issues", "d6", "application/json", uint8(1), "", []byte(`{"action":"`+strings.Repeat("a", 4060)+`"}`))

	n := ingesttest.StartNATS(f)
	deps := n.Deps(f, io.Discard)
	h := &githubhook.Handler{Verifier: githubhook.NewVerifier(fuzzSecret), MaxBody: 1 << 20, Log: slog.New(slog.DiscardHandler),
		Publish: &intake.Publisher{Conn: deps.Conn, JS: deps.JS}}
	budget := intake.NewBudget(4<<20, nil)
	endpoint := h.Endpoint(slog.New(slog.DiscardHandler), nil, intake.BodyRules{Budget: budget})
	_, js := n.Client(f)
	stored, err := js.Stream(context.Background(), events.StreamGitHub)
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, event, guid, contentType string, mode uint8, sig string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/github", bytes.NewReader(body))
		for k, v := range map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": guid, "Content-Type": contentType} {
			if validHeader(v) {
				req.Header.Set(k, v)
			}
		}
		signed := mode%3 == 1
		switch mode % 3 {
		case 1:
			req.Header.Set(githubhook.SignatureHeader, githubhook.SignatureValue(fuzzSecret, body))
		case 2:
			if validHeader(sig) {
				req.Header.Set(githubhook.SignatureHeader, sig)
			}
		}
		before := ingesttest.Count(t, js, events.StreamGitHub)
		rec := httptest.NewRecorder()
		endpoint.ServeHTTP(rec, req)
		after := ingesttest.Count(t, js, events.StreamGitHub)
		ok := rec.Code >= 200 && rec.Code < 300
		sigValid := signed || githubhook.NewVerifier(fuzzSecret).Verify(req.Header.Get(githubhook.SignatureHeader), body) == nil
		switch {
		case ok && !sigValid:
			t.Fatalf("answered %d to an unsigned delivery", rec.Code)
		case !ok && after != before:
			t.Fatalf("stored a delivery answered %d", rec.Code)
		case after > before && !sigValid:
			t.Fatal("stored an unsigned body")
		case budget.InUse() != 0:
			t.Fatalf("%d bytes of the body budget still held after the answer", budget.InUse())
		case after > before:
			m, err := stored.GetMsg(context.Background(), after) // nothing is ever deleted: the count is the last sequence
			if err != nil {
				t.Fatal(err)
			}
			checkBounds(t, m.Subject, m.Header.Get(events.HeaderMsgID))
		}
	})
}

func validHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 && v[i] != '\t' || v[i] == 0x7f {
			return false
		}
	}
	return true
}

// checkBounds fails t when a stored delivery's subject or message id is
// over the hub's limits.
func checkBounds(t *testing.T, subject, msgID string) {
	t.Helper()
	if len(subject) > events.MaxSubjectLen || events.CheckSubject(subject) != nil {
		t.Fatalf("stored on a subject of %d bytes: %v", len(subject), events.CheckSubject(subject))
	}
	for _, tok := range strings.Split(subject, ".") {
		if len(tok) > events.MaxTokenLen {
			t.Fatalf("stored on %q: a token of %d bytes", subject, len(tok))
		}
	}
	if len(msgID) == 0 || len(msgID) > events.MaxIDLen {
		t.Fatalf("stored with a Nats-Msg-Id of %d bytes", len(msgID))
	}
}
