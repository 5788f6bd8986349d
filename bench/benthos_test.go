package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
)

// TestBenthosPeerAnswersAfterThePubAck: the Benthos peer's 200 means the
// delivery is stored (it is in the stream when the answer arrives), and a
// publish JetStream refuses is not answered 2xx.
func TestBenthosPeerAnswersAfterThePubAck(t *testing.T) {
	testPeerAnswersAfterThePubAck(t, func(ctx context.Context, natsURL, addr, subject string) error {
		return runBenthos(ctx, natsURL, addr, subject, 4)
	})
}

// TestIngestFloorPeerAnswersAfterThePubAck: the same for the raw JetStream floor.
func TestIngestFloorPeerAnswersAfterThePubAck(t *testing.T) {
	testPeerAnswersAfterThePubAck(t, runIngestFloor)
}

// testPeerAnswersAfterThePubAck runs a peer of scenario 10 (run serves
// POST /github at addr until ctx ends, publishing to subject) and checks
// that its 2xx comes after the PubAck.
func testPeerAnswersAfterThePubAck(t *testing.T, run func(ctx context.Context, natsURL, addr, subject string) error) {
	env, err := startNATS()
	if err != nil {
		t.Fatal(err)
	}
	defer env.close()
	addr := loopbackAddr()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	subject := events.GitHubSubject("push", "")
	go func() { done <- run(ctx, env.srv.ClientURL(), addr, subject) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the peer did not stop")
		}
	}()
	if err := waitServing(peerCommand{addr: addr}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	send := func(guid string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/github", bytes.NewReader(pushPayload))
		req.Header.Set("X-GitHub-Delivery", guid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	s, err := env.js.Stream(t.Context(), events.StreamGitHub)
	if err != nil {
		t.Fatal(err)
	}
	for i, guid := range []string{"guid-1", "guid-2", "guid-1"} {
		if code := send(guid); code != http.StatusOK {
			t.Fatalf("delivery %d answered %d", i, code)
		}
		m, err := s.GetLastMsgForSubject(t.Context(), subject) // read right after the answer, no waiting
		if err != nil || m.Header.Get("Nats-Msg-Id") != guid && i < 2 || !bytes.Equal(m.Data, pushPayload) {
			t.Fatalf("after the answer to %s the stream holds %+v, %v", guid, m, err)
		}
		if info, _ := s.Info(t.Context()); info.State.Msgs != uint64(min(i+1, 2)) {
			t.Fatalf("after %d deliveries (one a redelivery) the stream holds %d", i+1, info.State.Msgs)
		}
	}
	// No stream takes the subject any more: the publish fails, and so does the request.
	if err := env.js.DeleteStream(t.Context(), events.StreamGitHub); err != nil {
		t.Fatal(err)
	}
	if code := send("guid-3"); code/100 == 2 {
		t.Fatalf("a delivery nothing stored answered %d", code)
	}
}
