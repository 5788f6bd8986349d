package ingester_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
)

// TestStoppingUnderLoadResetsNoClient stops the ingester (as SIGTERM does
// in `hub run`: its context ends) while 16 keep-alive clients post signed
// deliveries. Every request gets a whole HTTP answer, none a connection
// error, and every 202 is stored.
func TestStoppingUnderLoadResetsNoClient(t *testing.T) {
	n := ingesttest.StartNATS(t)
	cfg := githubConfig()
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	// Longer than the load: the drain ends once nobody has sent for a second.
	cfg.HTTP.DrainPeriod = 20 * time.Second
	logs := &ingesttest.Buffer{}
	deps := n.Deps(t, logs)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ingester.Run(ctx, deps, cfg) }()
	base := "http://" + cfg.HTTP.Listen
	health := func() int {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	natstest.WaitFor(t, 10*time.Second, "GET /health to answer 200", func() bool { return health() == http.StatusOK })

	push, _ := os.ReadFile("../testdata/github/push/payload.json")
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	var (
		mu      sync.Mutex
		answers = map[int]int{}
		errs    []error
		closing atomic.Int64 // answers that said Connection: close
		seq     atomic.Int64
		wg      sync.WaitGroup
	)
	loadEnd := time.Now().Add(2 * time.Second)
	for range 16 {
		wg.Go(func() {
			for time.Now().Before(loadEnd) {
				guid := fmt.Sprintf("dddddddd-0000-4000-8000-%012d", seq.Add(1))
				req, _ := http.NewRequest(http.MethodPost, base+"/github", bytes.NewReader(push))
				req.Header = delivery("push", guid, secret, "application/json", push)
				resp, err := c.Do(req)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil {
						errs = append(errs, fmt.Errorf("reading the answer: %w", err))
					}
					answers[resp.StatusCode]++
					if resp.Close {
						closing.Add(1)
					}
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(700 * time.Millisecond) // the load runs a while before the stop
	stop()
	natstest.WaitFor(t, 5*time.Second, "GET /health to answer 503 while draining", func() bool { return health() == http.StatusServiceUnavailable })
	wg.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the load stopped")
	}

	_, js := n.Client(t)
	stored := ingesttest.Count(t, js, events.StreamGitHub)
	t.Logf("%d requests: %v, %d answered Connection: close; %d connection errors; %d stored", seq.Load(), answers, closing.Load(), len(errs), stored)
	if len(errs) > 0 {
		t.Fatalf("%d requests failed on the client's side, e.g. %v", len(errs), errs[0])
	}
	for code := range answers {
		if code != http.StatusAccepted && code != http.StatusServiceUnavailable {
			t.Fatalf("answers %v: only 202 and 503 are expected", answers)
		}
	}
	if stored != uint64(answers[http.StatusAccepted]) {
		t.Fatalf("%d events stored, %d answered 202", stored, answers[http.StatusAccepted])
	}
	if closing.Load() == 0 || !strings.Contains(logs.String(), "http draining") {
		t.Fatalf("no answer said Connection: close during the drain")
	}
}
