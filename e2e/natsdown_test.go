package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
	"github.com/nats-io/nats.go/jetstream"
)

// github plays GitHub: it sends deliveries to the ingester and lists each
// attempt with its status in the deliveries API fake, which the
// reconciler reads; a redelivery it is asked for is sent again.
type github struct {
	h    *Hub
	api  *githubtest.Server
	mu   sync.Mutex
	sent map[string]Delivery
}

func (g *github) deliver(d Delivery) int {
	code, err := g.h.Send(d)
	if err != nil {
		code = http.StatusBadGateway // GitHub's record of a connection failure is a failed attempt too
	}
	g.mu.Lock()
	g.sent[d.GUID] = d
	g.mu.Unlock()
	g.api.Add(githubtest.Delivery{GUID: d.GUID, Event: d.Event, StatusCode: code, DeliveredAt: time.Now().UTC().Truncate(time.Second)})
	return code
}

// While NATS is down the ingester answers 503 and stores nothing; once it
// is back, new deliveries flow, and the reconciler's redelivery requests
// bring back the deliveries GitHub failed to make.
func TestNATSDownThenBackAndTheReconcilerBringsBackMissedDeliveries(t *testing.T) {
	opts := natstest.Options(t.TempDir())
	opts.Port = natstest.FreePort(t)
	users := natstest.NewUsers(t)
	users.Require(opts)
	srv := natstest.Start(t, opts)
	t.Cleanup(func() { natstest.Shutdown(srv) })
	api := githubtest.New(t, 4242)
	api.FailList(1 << 20) // GitHub's API "unavailable" until the test lets the reconciler look
	h := NewHub(t, Options{NATSURL: srv.ClientURL(), Users: users, Tune: func(c *hubconfig.Config) {
		c.Ingester.GitHub.App.AppID = api.AppID
		c.Ingester.GitHub.App.PrivateKey = config.NewSecret(string(api.KeyPEM))
		c.Ingester.GitHub.App.BaseURL = api.URL
		c.Ingester.GitHub.App.Interval = 300 * time.Millisecond
		c.Ingester.GitHub.PublishTimeout = time.Second
	}})
	gh := &github{h: h, api: api, sent: map[string]Delivery{}}
	api.SetResend(func(d githubtest.Delivery) int {
		gh.mu.Lock()
		orig := gh.sent[d.GUID]
		gh.mu.Unlock()
		code, _ := h.Send(orig)
		return code
	})
	issue := 0
	next := func() Delivery {
		issue++
		return IssueDelivery(t, "opened", 70000+issue, fmt.Sprintf("Outage %d", issue))
	}
	for range 5 {
		if code := gh.deliver(next()); code != http.StatusAccepted {
			t.Fatalf("before the outage: %d", code)
		}
	}
	h.WaitTasks(5)

	natstest.Shutdown(srv)
	var missed []string
	for range 5 {
		d := next()
		if code := gh.deliver(d); code != http.StatusServiceUnavailable {
			t.Fatalf("NATS down: answered %d, want 503", code)
		}
		missed = append(missed, d.GUID)
	}

	srv = natstest.Start(t, opts)
	h.waitHealthy(h.Ingester + "/health")
	for range 5 {
		if code := gh.deliver(next()); code != http.StatusAccepted {
			t.Fatalf("after the outage: %d", code)
		}
	}
	stored := storedGUIDs(t, h.JS)
	for _, g := range missed {
		if stored[g] {
			t.Fatalf("delivery %s answered 503 but was stored", g)
		}
	}
	h.WaitTasks(10)

	api.FailList(0) // the reconciler may now list deliveries and ask for the failed ones
	h.WaitTasks(15)
	h.WaitIdle(events.StreamGitHub, "github-issues-to-tasks")
	tasks := h.Tasks()
	for i := 1; i <= 15; i++ {
		if n := len(tasks[int64(70000+i)]); n != 1 {
			t.Fatalf("issue %d: %d tasks", i, n)
		}
	}
	asked := map[string]bool{}
	for _, g := range api.Redelivered() {
		asked[g] = true
	}
	for _, g := range missed {
		if !asked[g] {
			t.Fatalf("the reconciler did not ask for %s (asked %v)", g, api.Redelivered())
		}
	}
	if len(asked) != len(missed) {
		t.Fatalf("the reconciler asked for %d deliveries, want exactly the %d failed ones", len(asked), len(missed))
	}
}

// storedGUIDs reads the GitHub-Delivery header of every GITHUB message.
func storedGUIDs(t *testing.T, js jetstream.JetStream) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	oc, err := js.OrderedConsumer(context.Background(), events.StreamGitHub, jetstream.OrderedConsumerConfig{HeadersOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := oc.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range b.Messages() {
			n++
			out[m.Headers().Get("GitHub-Delivery")] = true
		}
		if n == 0 {
			return out
		}
	}
}
