package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/insightpulse/pulsehub/services/healthmon/console"
	"github.com/insightpulse/pulsehub/services/healthmon/ops"
	"github.com/nats-io/nats.go/jetstream"
)

func TestPagesNeedALoginAndActionsACSRFToken(t *testing.T) {
	h := startHub(t, nil)
	id := h.enqueue(t, "extract", jobs.Job{Payload: json.RawMessage(`{"doc": 1}`)})
	h.waitState(t, id, jobstate.Dead)
	c := h.client(t)
	for _, p := range []string{"/console/", "/console/jobs", "/console/jobs/" + id, "/console/dlq", "/console/routes"} {
		resp, err := c.Get(h.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
			t.Errorf("GET %s without a login: %s %s", p, resp.Status, resp.Header.Get("Location"))
		}
	}
	if resp, _ := c.post("/console/jobs/"+id+"/requeue", url.Values{"csrf": {"x"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an action without a session: %s", resp.Status)
	}
	resp := c.login(operator, password)
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "pulsehub_console" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.Path != "/console/" {
		t.Fatalf("session cookie %+v (HttpOnly, SameSite=Strict, not Secure without TLS)", session)
	}
	status, page := c.get("/console/jobs/" + id)
	if status != 200 {
		t.Fatalf("job page: %d", status)
	}
	csp := ""
	if r, err := c.Get(h.base + "/console/jobs"); err == nil {
		csp = r.Header.Get("Content-Security-Policy")
		r.Body.Close()
	}
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	for _, form := range []url.Values{{}, {"csrf": {"wrong"}}, {"csrf": {strings.Repeat("A", 43)}}} {
		resp, body := c.post("/console/jobs/"+id+"/requeue", form)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Fatalf("requeue with csrf %q: %s", form.Get("csrf"), resp.Status)
		}
	}
	if r, _ := jobs.Get(context.Background(), h.js, id); r.State != jobstate.Dead {
		t.Fatalf("a refused action changed the job: %s", r.State)
	}
	// The same request with the token goes through.
	resp, _ = c.post("/console/jobs/"+id+"/requeue", url.Values{"csrf": {csrf(t, page)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("requeue with the token: %s", resp.Status)
	}
	h.waitState(t, id, jobstate.Dead) // 422 again: dead again, after a fresh attempt
}

func TestLoginBruteForceIsLimitedThenAGoodLoginSucceeds(t *testing.T) {
	// The console's clock is the test's: bcrypt under -race on a loaded
	// machine must not let the window pass between the bad logins.
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	h := startHub(t, func(c *console.Config) { c.LoginAttempts, c.LoginWindow = 3, time.Minute }, console.WithClock(clock))
	c := h.client(t)
	for i := range 3 {
		if resp := c.login(operator, fmt.Sprintf("guess-%d-wrong-password", i)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad login %d: %s", i, resp.Status)
		}
	}
	if resp := c.login(operator, password); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a login over the limit, even a good one: %s", resp.Status)
	}
	if resp := c.login("mallory", "another-wrong-password"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("another account from the same address: %s", resp.Status)
	}
	now.Add(int64(59 * time.Second))
	if resp := c.login(operator, password); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a second before the window ends: %s", resp.Status)
	}
	now.Add(int64(time.Second))
	if resp := c.login(operator, password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a good login once the window ended: %s", resp.Status)
	}
	if status, _ := c.get("/console/jobs"); status != 200 {
		t.Fatalf("after logging in: %d", status)
	}
	// A login form posted without its token is refused, the right one works.
	c2 := h.client(t)
	if resp, _ := c2.post("/console/login", url.Values{"user": {operator}, "password": {password}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without the form's token: %s", resp.Status)
	}
	c2.mustLogin()
	if !strings.Contains(h.logs.String(), `"action":"login"`) || strings.Contains(h.logs.String(), password) {
		t.Fatal("a login is audited, its password is never logged")
	}
}

func TestPayloadsAndErrorsAreEscaped(t *testing.T) {
	h := startHub(t, nil)
	id := h.publishRaw(t, "extract", `{"payload": {"name": "</pre><script>alert('payload')</script>", "x": "<svg onload=alert(2)>"},
		"description": "<iframe src=javascript:alert(3)>"}`)
	h.waitState(t, id, jobstate.Dead)
	c := h.client(t)
	c.mustLogin()
	list, err := ops.ListDLQ(context.Background(), h.js, "", 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("dead letters %v %v", list, err)
	}
	for _, p := range []string{"/console/jobs", "/console/jobs/" + id, "/console/dlq", fmt.Sprintf("/console/dlq/%d", list[0].Seq),
		"/console/jobs?q=" + url.QueryEscape(`"><script>alert(4)</script>`)} {
		status, page := c.get(p)
		if status != 200 {
			t.Fatalf("%s: %d", p, status)
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<svg onload", "<iframe"} {
			if strings.Contains(page, raw) {
				t.Errorf("%s: %q reached the page unescaped", p, raw)
			}
		}
	}
	_, page := c.get("/console/jobs/" + id)
	if !strings.Contains(page, "&lt;script&gt;alert(&#39;payload&#39;)") || !strings.Contains(page, "&lt;img src=x onerror=") {
		t.Fatalf("the job page does not show the payload and error as text:\n%s", page)
	}
}

func TestOversizeInputsAreBounded(t *testing.T) {
	h := startHub(t, nil)
	big := json.RawMessage(`{"blob": "` + strings.Repeat("x", 1<<20) + `"}`)
	id := h.enqueue(t, "extract", jobs.Job{Payload: big})
	h.waitState(t, id, jobstate.Dead)
	c := h.client(t)
	// An oversize login form is refused before it is read.
	if resp, _ := c.post("/console/login", url.Values{"user": {strings.Repeat("a", 100_000)}, "password": {"x"}}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize login: %s", resp.Status)
	}
	c.mustLogin()
	status, page := c.get("/console/jobs/" + id)
	if status != 200 || len(page) > 200_000 || !strings.Contains(page, "first 16.0 KiB of 1.0 MiB") {
		t.Fatalf("job page of a 1 MiB payload: %d, %d bytes", status, len(page))
	}
	status, page = c.get("/console/jobs?q=" + strings.Repeat("z", 50_000) + "&page=99999999999999999999")
	if status != 200 || strings.Contains(page, strings.Repeat("z", 201)) {
		t.Fatalf("oversize filter: %d", status)
	}
	tok := c.token()
	if resp, _ := c.post("/console/jobs/"+id+"/requeue", url.Values{"csrf": {tok}, "pad": {strings.Repeat("p", 64<<10)}}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize action: %s", resp.Status)
	}
	for _, p := range []string{"/console/dlq/" + strings.Repeat("9", 40), "/console/dlq/route/" + strings.Repeat("r", 300) + "/purge", "/console/jobs/" + strings.Repeat("j", 300)} {
		if status, _ := c.get(p); status != http.StatusNotFound {
			t.Errorf("GET %.60s…: %d", p, status)
		}
	}
	if resp, body := c.post("/console/routes/jobs-ocr/replay", url.Values{"csrf": {tok}, "since": {strings.Repeat("9", 100) + "h"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "since") {
		t.Fatalf("oversize since: %s", resp.Status)
	}
	// After all that, a good request still works.
	if resp, _ := c.post("/console/jobs/"+id+"/requeue", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("requeue after the hostile requests: %s", resp.Status)
	}
}

func TestEveryActionIsAuditedWithItsCorrelationID(t *testing.T) {
	h := startHub(t, nil)
	ctx := context.Background()
	id := h.enqueue(t, "extract", jobs.Job{})
	h.waitState(t, id, jobstate.Dead)
	c := h.client(t)
	c.mustLogin()
	tok := c.token()
	// Purge needs the confirmation: without it, the console only asks.
	resp, _ := c.post("/console/dlq/route/jobs-ocr/purge", url.Values{"csrf": {tok}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/dlq/route/jobs-ocr/purge" {
		t.Fatalf("purge without confirm: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	if l, _ := ops.ListDLQ(ctx, h.js, "jobs-ocr", 0); len(l) != 1 {
		t.Fatalf("purged without confirmation: %d left", len(l))
	}
	_, page := c.get("/console/dlq/route/jobs-ocr/purge")
	contains(t, "confirmation", page, `name="confirm" value="yes"`)
	if resp, _ := c.post("/console/dlq/route/jobs-ocr/purge", url.Values{"csrf": {tok}, "confirm": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed purge: %s", resp.Status)
	}
	if l, _ := ops.ListDLQ(ctx, h.js, "jobs-ocr", 0); len(l) != 0 {
		t.Fatalf("%d dead letters after the purge", len(l))
	}
	// Its audit event: on HEALTH, with who, what and the correlation id of the log line.
	s, err := h.js.Stream(ctx, events.StreamHealth)
	if err != nil {
		t.Fatal(err)
	}
	var m *jetstream.RawStreamMsg
	natstest.WaitFor(t, wait, "the purge's audit event", func() bool {
		m, err = s.GetLastMsgForSubject(ctx, console.AuditSubject("dlq-purge-route"))
		return err == nil
	})
	var a console.Audit
	if err := json.Unmarshal(m.Data, &a); err != nil {
		t.Fatal(err)
	}
	if a.Operator != operator || a.Target != "jobs-ocr" || a.Outcome != "ok" || a.CorrelationID == "" ||
		m.Header.Get(events.HeaderCorrelationID) != a.CorrelationID {
		t.Fatalf("audit %+v headers %v", a, m.Header)
	}
	if err := schemas.Validate("audit", m.Data); err != nil {
		t.Fatalf("audit event against schemas/audit.schema.json: %v", err)
	}
	if !strings.Contains(h.logs.String(), `"correlation_id":"`+a.CorrelationID+`"`) {
		t.Fatal("no audit log line with the event's correlation id")
	}
}

func TestPublicReadShowsPagesButActionsStillNeedALogin(t *testing.T) {
	h := startHub(t, func(c *console.Config) { c.PublicRead = true })
	id := h.enqueue(t, "extract", jobs.Job{})
	h.waitState(t, id, jobstate.Dead)
	c := h.client(t)
	status, page := c.get("/console/jobs/" + id)
	if status != 200 || strings.Contains(page, `id="requeue"`) {
		t.Fatalf("public job page: %d (no action buttons without a login)", status)
	}
	if resp, _ := c.post("/console/jobs/"+id+"/requeue", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous action: %s", resp.Status)
	}
}
