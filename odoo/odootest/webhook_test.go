package odootest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/odoo"
)

// clock is a settable clock for create_date and write_date.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(ts string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = fixedClock(ts)()
}

// receiver records the requests a webhook sends.
type receiver struct {
	mu      sync.Mutex
	headers []http.Header
	bodies  [][]byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.headers = append(rc.headers, r.Header.Clone())
	rc.bodies = append(rc.bodies, b)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) last(t *testing.T) (http.Header, []byte) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) == 0 {
		t.Fatal("no webhook received")
	}
	return rc.headers[len(rc.headers)-1], rc.bodies[len(rc.bodies)-1]
}

var webhookFields = []string{"active", "category_id", "country_id", "create_date", "email", "id", "is_company", "name", "parent_id", "phone", "ref", "write_date"}

func TestSendWebhookSendsWhatOdooSends(t *testing.T) {
	clk := &clock{}
	clk.Set("2026-11-22 05:14:39.350509")
	s := New(t, WithClock(clk.Now))
	insert(t, s, "res.partner.category", map[string]any{"id": 4, "name": "Customer"})
	insert(t, s, "res.partner", map[string]any{"id": 18, "name": "Webhook Test Co", "email": "wh@example.com", "is_company": true, "category_id": []int64{4}})
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)

	recorded, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(readFixture(t, "webhook/partner-create.http"))))
	if err != nil {
		t.Fatal(err)
	}
	wantBody, _ := io.ReadAll(recorded.Body)
	send := func() {
		t.Helper()
		resp, err := s.SendWebhook(context.Background(), hook.URL+"/hook", "Hub webhook POST(#237)", "res.partner", 18, webhookFields)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	send()
	header, body := rc.last(t)
	if !bytes.Equal(body, wantBody) {
		t.Fatalf("body = %s\nrecorded %s", body, wantBody)
	}
	for _, h := range []string{"User-Agent", "Accept-Encoding", "Accept", "Connection", "Content-Type", "Content-Length"} {
		if header.Get(h) != recorded.Header.Get(h) {
			t.Errorf("%s = %q, recorded %q", h, header.Get(h), recorded.Header.Get(h))
		}
	}

	clk.Set("2026-11-22 05:14:39.956182")
	c, err := odoo.New(s.Config(odoo.TransportXMLRPC))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(context.Background(), "res.partner", []int64{18}, map[string]any{"phone": "+32 2 555 12 34"}); err != nil {
		t.Fatal(err)
	}
	send()
	if _, body = rc.last(t); !bytes.Equal(body, readFixture(t, "webhook/partner-write.json")) {
		t.Fatalf("body after write = %s", body)
	}
}

func TestSendWebhookGivesUpAfterOneSecond(t *testing.T) {
	s := New(t)
	release := make(chan struct{})
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hook.Close)
	t.Cleanup(func() { close(release) })
	start := time.Now()
	_, err := s.SendWebhook(context.Background(), hook.URL, "slow(#1)", "res.partner", 1, []string{"name"})
	if err == nil {
		t.Fatal("a receiver slower than 1 s got the webhook")
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Fatalf("gave up after %s, want about 1s", d)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the webhook was sent %d times; Odoo does not retry", n)
	}
}
