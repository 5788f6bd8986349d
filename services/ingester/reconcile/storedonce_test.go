package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
	"github.com/insightpulse/pulsehub/services/ingester/reconcile"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Issue 19, point 4: the GITHUB stream the hub creates remembers a
// delivery GUID (its Nats-Msg-Id) for longer than the reconciler looks
// back, so a delivery the hub stored but GitHub logged as failed (the
// answer came after GitHub's 10 s), redelivered up to a lookback later, is
// a JetStream duplicate. And so it is, end to end: GitHub resends the
// stored delivery to the ingester, which answers 202 duplicate.
func TestADeliveryStoredButLoggedAsFailedIsStoredOnce(t *testing.T) {
	e := newEnv(t)
	_, js := e.nats.Client(t)
	s, err := js.Stream(t.Context(), events.StreamGitHub)
	if err != nil {
		t.Fatal(err)
	}
	if window := s.CachedInfo().Config.Duplicates; window <= reconcile.DefaultLookback {
		t.Fatalf("GITHUB's duplicate window %s does not cover the reconciler's lookback %s", window, reconcile.DefaultLookback)
	}

	const secret = "It's a Secret to Everybody"
	cfg := ingester.DefaultConfig()
	cfg.GitHub.WebhookSecrets = []config.Secret{config.NewSecret(secret)}
	ing := ingesttest.Serve(t, e.nats, cfg)
	guid := uuid.NewString()
	body := []byte(`{"action":"opened","issue":{"id":19}}`)
	h := http.Header{}
	h.Set("X-GitHub-Event", "issues")
	h.Set("X-GitHub-Delivery", guid)
	h.Set("Content-Type", "application/json")
	h.Set(githubhook.SignatureHeader, githubhook.SignatureValue(secret, body))
	if code, _ := ing.Post(t, "/github", h, body); code != http.StatusAccepted {
		t.Fatalf("the delivery: %d", code)
	}
	// GitHub gave up waiting and logged it as timed out.
	e.gh.Add(githubtest.Delivery{GUID: guid, DeliveredAt: ago(time.Hour), StatusCode: 0, Event: "issues"})
	answers := make(chan []byte, 1)
	e.gh.SetResend(func(githubtest.Delivery) int { // GitHub's goroutine: no t.Fatal here
		req, _ := http.NewRequest(http.MethodPost, ing.URL+"/github", bytes.NewReader(body))
		req.Header = h.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answers <- nil
			return 0
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		answers <- answer
		return resp.StatusCode
	})
	if _, err := e.pass(t, e.reconciler(t, nil)); err != nil {
		t.Fatal(err)
	}
	var a struct{ Duplicate bool }
	if err := json.Unmarshal(<-answers, &a); err != nil || !a.Duplicate {
		t.Fatalf("the redelivery was not a duplicate: %v", err)
	}
	if n := ingesttest.Count(t, js, events.StreamGitHub); n != 1 {
		t.Fatalf("GITHUB holds %d messages, want the delivery once", n)
	}
}

// BenchmarkDuplicateWindowMemory measures what a JetStream duplicate
// window costs per remembered message id, which decided how "stored once"
// is kept over the reconciler's lookback (services/ingester/README.md):
// n messages published with a unique 36-character Nats-Msg-Id (a GitHub
// delivery GUID) into a stream whose window covers them all, against n
// messages without an id; the difference in live heap (the in-process
// nats-server's, after a GC), divided by n, is reported as B/id. With
// -subject it instead stores each message on a subject of its own, which
// is what a KV bucket of accepted GUIDs would cost per key.
//
//	go test -run '^$' -bench DuplicateWindowMemory -benchtime 1x -count 3 ./reconcile
func BenchmarkDuplicateWindowMemory(b *testing.B) {
	const n = 200_000
	for _, mode := range []string{"msg-id", "subject"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				with := heapAfter(b, n, mode)
				without := heapAfter(b, n, "")
				b.ReportMetric(float64(int64(with)-int64(without))/n, "B/id")
			}
		})
	}
}

func heapAfter(b *testing.B, n int, mode string) uint64 {
	b.Helper()
	srv := natstest.RunServer(b)
	defer natstest.Shutdown(srv)
	nc, js := natstest.Connect(b, srv.ClientURL())
	defer nc.Close()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DEDUP", Subjects: []string{"dedup.>"},
		Storage: jetstream.FileStorage, Duplicates: 72 * time.Hour}); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		m := &nats.Msg{Subject: "dedup.push.none", Data: []byte("{}"), Header: nats.Header{}}
		switch mode {
		case "msg-id":
			m.Header.Set(jetstream.MsgIDHeader, uuid.NewString())
		case "subject":
			m.Subject = "dedup.kv." + uuid.NewString()
		}
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
