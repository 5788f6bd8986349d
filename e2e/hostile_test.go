package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The hostile-input suite (issue 13): what a stranger on the network can
// send the ingester, and what a NATS client can try without the hub's
// credentials or beyond its own, in one table. Each case is followed by a
// normal signed GitHub delivery — and an Odoo case by a normal Odoo
// webhook too — that must get 202, and the streams must then have grown
// by exactly the legitimate events: nothing a case sent was stored.
// Everything is on loopback, and each case has its own deadline.
//
// The hub is the e2e Hub (every service through the composition root,
// each with its own NATS user) with the ingester's defaults — the 256 MiB
// body budget, the 5 s read_header_timeout, the 64 KiB/s body rate floor
// after 5 s — and two things set for the suite: an Odoo source without a
// model (it takes any _model, as the source of issue 13's first bug did),
// and a NATS server with a stock nats-server's 1 MiB max_payload, under
// GitHub's 25 MiB, so that a body within the ingester's limit can be over
// the server's.
const (
	anySource = "anymodel"
	anyToken  = "e2e-any-model-token-5d1e0c7a"

	// caseWait bounds one case, its normal deliveries and its checks.
	caseWait = 30 * time.Second
)

// watched are the streams whose message counts every case checks.
var watched = []string{events.StreamGitHub, events.StreamOdoo, events.StreamOdooCmd, events.StreamJobs, events.StreamResults, events.StreamDLQ}

// grew is how many messages streams gained, by stream name.
type grew map[string]int

// answer is what a case's requests got.
type answer struct {
	got    string // the hub's answers: statuses ("401", "202 401 202"), "closed", or an attack's summary
	stored grew   // what the case itself stored (its legitimate parts: a pipelined delivery, the deliveries sent during an attack)
	note   string // numbers for the report
}

// hostileCase is one row of the table.
type hostileCase struct {
	name   string
	want   string                                       // the answers expected
	odoo   bool                                         // an Odoo case: a normal Odoo webhook follows it too
	stores grew                                         // what the case stores: legitimate requests in it, or what a refusal leaves (a dead letter)
	send   func(ctx context.Context, s *hostile) answer // the request(s)
	check  func(ctx context.Context, s *hostile) error  // more to check once the case is over; may be nil
	wait   time.Duration                                // the case's deadline; default caseWait
}

// A stranger's requests, from malformed signatures to connection floods,
// are refused or cut without storing anything, and never keep a normal
// delivery from being stored.
func TestHostileInputIsRefusedAndNormalDeliveriesGoOn(t *testing.T) {
	start := time.Now()
	s := newHostile(t)
	cases := hostileCases()
	rows := make([]reportRow, 0, len(cases))
	total := s.counts(t, t.Context())
	for _, c := range cases {
		r := reportRow{name: c.name, want: c.want}
		t.Run(c.name, func(t *testing.T) {
			defer func() { r.failed = t.Failed() }()
			s.run(t, c, &r, total)
		})
		rows = append(rows, r)
	}
	// Nothing arrived late either: the streams hold the legitimate events only.
	ctx, cancel := context.WithTimeout(t.Context(), caseWait)
	defer cancel()
	if err := s.waitCounts(ctx, total); err != nil {
		t.Errorf("after every case: %v", err)
	}
	// The URLs held tokens, right, wrong and encoded: no log line has one.
	for _, secret := range []string{webhookSecret, anyToken, odooToken, anyToken[:len(anyToken)-1], strings.ToUpper(anyToken), strings.ReplaceAll(anyToken, "-", "%2D")} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("the services' log holds %q", secret)
		}
	}
	t.Logf("hostile-input suite: %d cases in %s\n%s", len(cases), time.Since(start).Round(100*time.Millisecond), report(rows))
}

// run runs one case and the normal deliveries after it, and checks what
// the streams gained. total accumulates what every stream should hold.
func (s *hostile) run(t *testing.T, c hostileCase, r *reportRow, total map[string]uint64) {
	ctx, cancel := context.WithTimeout(t.Context(), cmp.Or(c.wait, caseWait))
	defer cancel()
	before := s.counts(t, ctx)
	a := c.send(ctx, s)
	r.got, r.note = a.got, a.note
	if a.got != c.want {
		t.Errorf("answered %q, want %q", a.got, c.want)
	}
	want := grew{events.StreamGitHub: 1}
	code, took := s.legit(ctx, false)
	r.then = fmt.Sprintf("%s in %s", code, took.Round(time.Millisecond))
	if code != "202" {
		t.Errorf("the normal GitHub delivery after it: %s, want 202", code)
	}
	if c.odoo {
		want[events.StreamOdoo]++
		code, took := s.legit(ctx, true)
		r.then += fmt.Sprintf(", odoo %s in %s", code, took.Round(time.Millisecond))
		if code != "202" {
			t.Errorf("the normal Odoo webhook after it: %s, want 202", code)
		}
	}
	for _, g := range []grew{c.stores, a.stored} {
		for name, n := range g {
			want[name] += n
		}
	}
	expect := map[string]uint64{}
	for _, name := range watched {
		expect[name] = before[name] + uint64(want[name])
		total[name] += uint64(want[name])
	}
	if err := s.waitCounts(ctx, expect); err != nil {
		t.Error(err)
	}
	if c.check != nil {
		if err := c.check(ctx, s); err != nil {
			t.Error(err)
		}
	}
	// Whatever the case's bodies held of the budget is given back.
	if err := s.waitInFlight(ctx); err != nil {
		t.Error(err)
	}
}

// hostileCases is the table. Every GitHub request is signed with the
// webhook secret unless the case is about its signature, so that each
// reaches the check it is about.
func hostileCases() []hostileCase {
	zen := []byte(`{"zen":"Keep it logically awesome.","hook_id":4242}`)
	other := []byte(`{"zen":"Another body.","hook_id":4242}`)
	odooOK := odooJSON("res.partner")
	tok := "/odoo/" + anySource + "/" + anyToken
	half := len(anyToken) / 2
	cs := []hostileCase{
		// Signatures.
		{name: "signature missing", want: "401", send: ghPost("push", zen, without(githubhook.SignatureHeader))},
		{name: "signature wrong", want: "401", send: ghPost("push", zen, signature(func([]byte) string { return "sha256=" + strings.Repeat("0", 64) }))},
		{name: "signature not hex", want: "401", send: ghPost("push", zen, signature(func([]byte) string { return "sha256=" + strings.Repeat("zz", 32) }))},
		{name: "signature truncated", want: "401", send: ghPost("push", zen, signature(func(b []byte) string { return sig256(b)[:39] }))},
		{name: "sha1 only (X-Hub-Signature)", want: "401", send: ghPost("push", zen, without(githubhook.SignatureHeader),
			with("X-Hub-Signature", "sha1="+hex.EncodeToString(hmacSHA1([]byte(webhookSecret), zen))))},
		{name: "signature of another body", want: "401", send: ghPost("push", zen, signature(func([]byte) string { return sig256(other) }))},
		{name: "signature with prefix sha1=", want: "401", send: ghPost("push", zen, signature(func(b []byte) string { return "sha1=" + strings.TrimPrefix(sig256(b), "sha256=") }))},
		{name: "signature with prefix SHA256=", want: "401", send: ghPost("push", zen, signature(func(b []byte) string { return "SHA256=" + strings.TrimPrefix(sig256(b), "sha256=") }))},
		{name: "signature without prefix", want: "401", send: ghPost("push", zen, signature(func(b []byte) string { return strings.TrimPrefix(sig256(b), "sha256=") }))},
		// Hex is case-blind: the same MAC in upper case is the signature.
		{name: "signature in upper-case hex (the same MAC)", want: "202", stores: grew{events.StreamGitHub: 1},
			send: ghPost("push", zen, signature(func(b []byte) string { return "sha256=" + strings.ToUpper(strings.TrimPrefix(sig256(b), "sha256=")) }))},
		{name: "signed with an empty secret", want: "401", send: ghPost("push", zen, signature(func(b []byte) string { return githubhook.SignatureValue("", b) }))},
		{name: "signed with another secret", want: "401", send: ghPost("push", zen, signature(func(b []byte) string { return githubhook.SignatureValue(webhookSecret+"\n", b) }))},
		{name: "two signatures, a wrong one first", want: "401", send: ghPost("push", zen, signature(func(b []byte) string { return "sha256=" + strings.Repeat("0", 64) }),
			func(h http.Header, b []byte) {
				h[githubhook.SignatureHeader] = append(h[githubhook.SignatureHeader], sig256(b))
			})},

		// Bodies and content types.
		{name: "malformed JSON", want: "400", send: ghPost("push", []byte(`{"zen":`))},
		{name: "empty body", want: "400", send: ghPost("push", nil)},
		{name: "JSON array", want: "400", send: ghPost("push", []byte(`[{"zen":"x"}]`))},
		{name: "JSON string", want: "400", send: ghPost("push", []byte(`"zen"`))},
		{name: "JSON null", want: "400", send: ghPost("push", []byte(`null`))},
		{name: "two JSON objects", want: "400", send: ghPost("push", []byte(`{"a":1}{"b":2}`))},
		{name: "JSON nested 8 Mi levels deep", want: "400", send: ghPost("push", append([]byte(`{"a":`), bytes.Repeat([]byte("["), 8<<20)...))},
		{name: "JSON nested 10,001 levels, closed", want: "400", send: ghPost("push", []byte(`{"a":`+strings.Repeat("[", githubhook.MaxDepth)+strings.Repeat("]", githubhook.MaxDepth)+`}`))},
		{name: "content type text/plain", want: "415", send: ghPost("push", zen, with("Content-Type", "text/plain"))},
		{name: "content type multipart/form-data", want: "415", send: ghPost("push", zen, with("Content-Type", "multipart/form-data; boundary=x"))},
		{name: "no content type", want: "415", send: ghPost("push", zen, without("Content-Type"))},
		{name: "content type unparsable", want: "415", send: ghPost("push", zen, with("Content-Type", "application/json; charset"))},
		{name: "form without payload=", want: "400", send: ghPost("push", []byte("zen=hi&hook_id=1"), with("Content-Type", githubhook.ContentForm))},
		{name: "form with a payload that is not JSON", want: "400", send: ghPost("push", []byte("payload=%7Bzen"), with("Content-Type", githubhook.ContentForm))},
		{name: "form with a JSON array payload", want: "400", send: ghPost("push", []byte("payload="+url.QueryEscape(`[1]`)), with("Content-Type", githubhook.ContentForm))},
		{name: "form that does not parse", want: "400", send: ghPost("push", []byte("payload=%zz"), with("Content-Type", githubhook.ContentForm))},

		// Event, action and delivery GUID: what would become a subject, a header or an id.
		{name: "event missing", want: "400", send: ghPost("push", zen, without("X-GitHub-Event"))},
		{name: "event with .", want: "400", send: ghPost("issues.opened", zen)},
		{name: "event *", want: "400", send: ghPost("*", zen)},
		{name: "event >", want: "400", send: ghPost(">", zen)},
		{name: "event github.>", want: "400", send: ghPost("github.>", zen)},
		{name: "event with a space", want: "400", send: ghPost("iss ues", zen)},
		{name: "event in unicode", want: "400", send: ghPost("issües", zen)},
		{name: "event of 64 bytes (the limit)", want: "202", stores: grew{events.StreamGitHub: 1}, send: ghPost(strings.Repeat("e", events.MaxNameLen), zen)},
		{name: "event of 65 bytes", want: "400", send: ghPost(strings.Repeat("e", events.MaxNameLen+1), zen)},
		{name: "event of 4,060 bytes", want: "400", send: ghPost(strings.Repeat("e", 4060), zen)},
		{name: "action of 65 bytes", want: "400", send: ghPost("e2e_hostile", action(strings.Repeat("a", events.MaxNameLen+1)))},
		{name: "action of 4,060 bytes", want: "400", send: ghPost("e2e_hostile", action(strings.Repeat("a", 4060)))},
		// An action is any string of at most 64 bytes: each byte that is
		// not a plain one is escaped, so it stays one subject token.
		{name: "action with . * > and a space (escaped)", want: "202", stores: grew{events.StreamGitHub: 1},
			send: ghPost("e2e_hostile", action("opened.* > x")), check: storedOn("github.e2e_hostile." + events.Token("opened.* > x"))},
		{name: "delivery GUID missing", want: "400", send: ghPost("push", zen, without("X-GitHub-Delivery"))},
		{name: "delivery GUID of 129 bytes", want: "400", send: ghPost("push", zen, with("X-GitHub-Delivery", strings.Repeat("d", events.MaxIDLen+1)))},
		{name: "delivery GUID of 4,060 bytes", want: "400", send: ghPost("push", zen, with("X-GitHub-Delivery", strings.Repeat("d", 4060)))},
		{name: "delivery GUID with . and >", want: "400", send: ghPost("push", zen, with("X-GitHub-Delivery", "a.b.>"))},

		// Header injection, as raw bytes: Go's client refuses to send these.
		// A bare LF ends a header line (RFC 9112 lets a server take it for
		// CRLF, and Go's does): what follows it is a header of its own,
		// which the hub does not read, and the event stored is the signed
		// one, with the hub's own headers only.
		{name: "LF inside the event header", want: "202", stores: grew{events.StreamGitHub: 1}, check: storedAs("e2e-raw-lf"),
			send: raw(1, rawDelivery("POST /github HTTP/1.1", "Host: hub\r\nX-GitHub-Event: e2e_hostile\nX-Injected: 1\r\nX-GitHub-Delivery: e2e-raw-lf\r\n", zen))},
		{name: "CR inside the event header", want: "400 closed", send: raw(1, rawDelivery("POST /github HTTP/1.1", "Host: hub\r\nX-GitHub-Event: push\rX-Injected: 1\r\nX-GitHub-Delivery: e2e-raw-cr\r\n", zen))},
		{name: "NUL inside the event header", want: "400 closed", send: raw(1, rawDelivery("POST /github HTTP/1.1", "Host: hub\r\nX-GitHub-Event: push\x00\r\nX-GitHub-Delivery: e2e-raw-nul\r\n", zen))},
		{name: "LF inside the delivery GUID, then Nats-Msg-Id", want: "202", stores: grew{events.StreamGitHub: 1}, check: storedAs("e2e-raw-lf-guid"),
			send: raw(1, rawDelivery("POST /github HTTP/1.1", "Host: hub\r\nX-GitHub-Event: e2e_hostile\r\nX-GitHub-Delivery: e2e-raw-lf-guid\nNats-Msg-Id: injected\r\n", zen))},
		// A folded line is joined to the header's value, which is then no event name.
		{name: "folded event header (obs-fold)", want: "400", send: raw(1, rawDelivery("POST /github HTTP/1.1", "Host: hub\r\nX-GitHub-Event: push\r\n .opened\r\nX-GitHub-Delivery: e2e-raw-fold\r\n", zen))},
		{name: "space before a header's colon", want: "400 closed", send: raw(1, rawDelivery("POST /github HTTP/1.1", "Host: hub\r\nX-GitHub-Event : push\r\nX-GitHub-Delivery: e2e-raw-sp\r\n", zen))},

		// Sizes.
		{name: "1 MiB of headers", want: "431 closed", send: raw(1, "POST /github HTTP/1.1\r\nHost: hub\r\nX-Junk: "+strings.Repeat("a", 1<<20)+"\r\n\r\n")},
		{name: "20,000 small headers", want: "431 closed", send: raw(1, "POST /github HTTP/1.1\r\nHost: hub\r\n"+strings.Repeat("X-J: a\r\n", 20000)+"\r\n")},
		{name: "30 MB body with Content-Length", want: "413 closed", send: bigBody("/github", 30_000_000, false)},
		{name: "30 MB body chunked", want: "413 closed", send: bigBody("/github", 30_000_000, true)},
		{name: "signed body over the NATS max_payload", want: "413", send: ghPost("push", padded(2<<20))},
		{name: "Odoo body over 1 MiB with Content-Length", want: "413 closed", odoo: true, send: bigBody(tok, 2<<20, false)},
		{name: "Odoo body over 1 MiB chunked", want: "413 closed", odoo: true, send: bigBody(tok, 2<<20, true)},

		// Connections and HTTP framing.
		{name: "slowloris: 200 connections sending headers byte by byte", want: "closed; legit 202", wait: 40 * time.Second,
			send: holders(200, "POST /github HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n"+
				"X-GitHub-Delivery: e2e-slowloris\r\nX-Hub-Signature-256: sha256="+strings.Repeat("0", 64)+"\r\nContent-Length: 2\r\n\r\n{}", 100*time.Millisecond)},
		{name: "idle connections", want: "closed; legit 202", wait: 40 * time.Second, send: holders(0, "", 0)},
		{name: "pipelining: three requests in one write", want: "202 401 202", stores: grew{events.StreamGitHub: 2}, send: raw(3,
			rawDelivery("POST /github HTTP/1.1", "Host: hub\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: e2e-pipelined-1\r\n", zen)+
				strings.Replace(rawDelivery("POST /github HTTP/1.1", "Host: hub\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: e2e-pipelined-2\r\n", zen), "sha256=", "sha256=00", 1)+
				rawDelivery("POST /github HTTP/1.1", "Host: hub\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: e2e-pipelined-3\r\n", zen))},
		{name: "HTTP/1.0 without Host, signed", want: "202 closed", stores: grew{events.StreamGitHub: 1},
			send: raw(2, rawDelivery("POST /github HTTP/1.0", "X-GitHub-Event: push\r\nX-GitHub-Delivery: e2e-http10\r\n", zen))},
		{name: "HTTP/1.1 without Host", want: "400 closed", send: raw(1, rawDelivery("POST /github HTTP/1.1", "X-GitHub-Event: push\r\nX-GitHub-Delivery: e2e-nohost\r\n", zen))},
		// An absolute-form URI names the hub's own path: served, never proxied.
		{name: "absolute-form URI, signed", want: "202", stores: grew{events.StreamGitHub: 1},
			send: raw(1, rawDelivery("POST http://hub.example/github HTTP/1.1", "Host: hub.example\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: e2e-absolute\r\n", zen))},
		{name: "absolute-form URI to another host, unsigned", want: "401", send: raw(1, strings.Replace(
			rawDelivery("POST http://169.254.169.254/github HTTP/1.1", "Host: 169.254.169.254\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: e2e-absolute-2\r\n", zen), "sha256=", "sha256=00", 1))},
		{name: "CONNECT to the NATS port", want: "404", send: raw(1, "CONNECT 127.0.0.1:4222 HTTP/1.1\r\nHost: 127.0.0.1:4222\r\n\r\n")},
		{name: "GET /github", want: "405", send: raw(1, "GET /github HTTP/1.1\r\nHost: hub\r\n\r\n")},
		// Both framings: Go's server reads the chunked body alone (which
		// RFC 9112 allows) but keeps the connection open (where the RFC
		// says close); it matters only behind a proxy that forwards both.
		{name: "Content-Length and chunked together, unsigned", want: "401", send: raw(1,
			"POST /github HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")},
		{name: "two different Content-Lengths", want: "400 closed", send: raw(1,
			"POST /github HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")},
		{name: "Transfer-Encoding gzip", want: "501 closed", send: raw(1,
			"POST /github HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}")},

		// The Odoo path: the source and the token.
		{name: "odoo: unknown source", want: "404", odoo: true, send: odooPost("/odoo/nosuch/"+anyToken, odooOK)},
		{name: "odoo: wrong token", want: "404", odoo: true, send: odooPost("/odoo/"+anySource+"/wrong-token-0123456789abcdef", odooOK)},
		{name: "odoo: another source's token", want: "404", odoo: true, send: odooPost("/odoo/"+anySource+"/"+odooToken, odooOK)},
		{name: "odoo: token with a suffix", want: "404", odoo: true, send: odooPost(tok+"x", odooOK)},
		{name: "odoo: token cut short", want: "404", odoo: true, send: odooPost(tok[:len(tok)-1], odooOK)},
		{name: "odoo: token in upper case", want: "404", odoo: true, send: odooPost("/odoo/"+anySource+"/"+strings.ToUpper(anyToken), odooOK)},
		{name: "odoo: source in upper case", want: "404", odoo: true, send: odooPost("/odoo/"+strings.ToUpper(anySource)+"/"+anyToken, odooOK)},
		{name: "odoo: /ODOO", want: "404", odoo: true, send: odooPost("/ODOO/"+anySource+"/"+anyToken, odooOK)},
		{name: "odoo: empty token", want: "404", odoo: true, send: odooPost("/odoo/"+anySource+"/", odooOK)},
		{name: "odoo: trailing slash", want: "404", odoo: true, send: odooPost(tok+"/", odooOK)},
		// A path that is not clean is redirected to its clean form (307
		// keeps the method): nothing is read or stored, and the Location
		// is the client's own path.
		{name: "odoo: token/.. (a redirect)", want: "307", odoo: true, send: odooPost(tok+"/..", odooOK)},
		{name: "odoo: ../ to the real token (a redirect)", want: "307", odoo: true, send: odooPost("/odoo/nosuch/../"+anySource+"/"+anyToken, odooOK)},
		{name: "odoo: %2E%2E in the token", want: "404", odoo: true, send: odooPost(tok+"%2E%2E", odooOK)},
		{name: "odoo: encoded slash in the token", want: "404", odoo: true, send: odooPost("/odoo/"+anySource+"/"+anyToken[:half]+"%2F"+anyToken[half:], odooOK)},
		{name: "odoo: encoded slash between source and token", want: "404", odoo: true, send: odooPost("/odoo/"+anySource+"%2F"+anyToken, odooOK)},
		{name: "odoo: double slash before odoo (a redirect)", want: "307", odoo: true, send: odooPost("/"+tok, odooOK)},
		{name: "odoo: double slash before the token (a redirect)", want: "307", odoo: true, send: odooPost("/odoo/"+anySource+"//"+anyToken, odooOK)},
		{name: "odoo: GET with the right token", want: "405", odoo: true, send: raw(1, "GET "+tok+" HTTP/1.1\r\nHost: hub\r\n\r\n")},
		// Percent-encoding is the same URL: the token compared is the decoded one.
		{name: "odoo: the token percent-encoded (the same token)", want: "202", odoo: true, stores: grew{events.StreamOdoo: 1},
			send: odooPost("/odoo/"+anySource+"/"+strings.ReplaceAll(anyToken, "-", "%2D"), odooOK)},

		// The Odoo body, with the right token.
		{name: "odoo: _model of 4,060 characters", want: "400", odoo: true, send: odooPost(tok, odooJSON(strings.Repeat("m", 4060)))},
		{name: "odoo: _model of 65 characters", want: "400", odoo: true, send: odooPost(tok, odooJSON(strings.Repeat("m", events.MaxNameLen+1)))},
		{name: "odoo: _model of 64 characters (the limit)", want: "202", odoo: true, stores: grew{events.StreamOdoo: 1}, send: odooPost(tok, odooJSON(strings.Repeat("m", events.MaxNameLen)))},
		{name: "odoo: _model res.*", want: "400", odoo: true, send: odooPost(tok, odooJSON("res.*"))},
		{name: "odoo: _model res.>", want: "400", odoo: true, send: odooPost(tok, odooJSON("res.>"))},
		{name: "odoo: _model >", want: "400", odoo: true, send: odooPost(tok, odooJSON(">"))},
		{name: "odoo: _model res..partner", want: "400", odoo: true, send: odooPost(tok, odooJSON("res..partner"))},
		{name: "odoo: _model .res", want: "400", odoo: true, send: odooPost(tok, odooJSON(".res"))},
		{name: "odoo: _model with a space", want: "400", odoo: true, send: odooPost(tok, odooJSON("res partner"))},
		{name: "odoo: _model in unicode", want: "400", odoo: true, send: odooPost(tok, odooJSON("res.pärtner"))},
		{name: "odoo: _model missing", want: "400", odoo: true, send: odooPost(tok, []byte(`{"_id":7,"write_date":"2026-11-22 05:14:39"}`))},
		{name: "odoo: _id a string", want: "400", odoo: true, send: odooPost(tok, []byte(`{"_id":"7","_model":"res.partner"}`))},
		{name: "odoo: _id negative", want: "400", odoo: true, send: odooPost(tok, []byte(`{"_id":-7,"_model":"res.partner"}`))},
		{name: "odoo: write_date not Odoo's", want: "400", odoo: true, send: odooPost(tok, []byte(`{"_id":7,"_model":"res.partner","write_date":"yesterday"}`))},
		{name: "odoo: malformed JSON", want: "400", odoo: true, send: odooPost(tok, []byte(`{"_id":7,`))},
		{name: "odoo: JSON array", want: "400", odoo: true, send: odooPost(tok, []byte(`[{"_id":7,"_model":"res.partner"}]`))},
		{name: "odoo: JSON nested 1 Mi levels deep", want: "400", odoo: true,
			send: odooPost(tok, append([]byte(`{"_id":7,"_model":"res.partner","x":`), bytes.Repeat([]byte("["), 1<<20-64)...))},
		{name: "odoo: content type text/plain", want: "415", odoo: true, send: odooPostType(tok, "text/plain", odooOK)},
		{name: "odoo: a model the source does not take", want: "400", odoo: true, send: odooPost("/odoo/expenses/"+odooToken, odooJSON("res.partner"))},

		// The body budget that strangers cannot hold.
		{name: "eleven strangers announcing 256 MiB, trickling", want: "strangers 408, guesser 404; legit 202", odoo: true, wait: 40 * time.Second, send: strangers},

		// NATS: only the hub's users get in, each only as far as its job.
		{name: "nats: a client without credentials", want: "refused: authorization violation", send: natsClient(func(*hostile) []nats.Option { return nil })},
		{name: "nats: a client with an unknown nkey", want: "refused: authorization violation",
			send: natsClient(func(s *hostile) []nats.Option { return s.unknown.Options(natsauth.Operator) })},
		{name: "nats: the ingester's user publishing odoo.cmd", want: "refused: permissions violation", send: asUser(natsauth.Ingester, func(ctx context.Context, js jetstream.JetStream) error {
			_, err := js.Publish(ctx, "odoo.cmd.res_partner.unlink", []byte(`{"id":1}`))
			return err
		})},
		{name: "nats: the ingester's user deleting stream GITHUB", want: "refused: permissions violation", send: asUser(natsauth.Ingester, func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, events.StreamGitHub)
		})},
		{name: "nats: a job with result_subject odoo.cmd.…, enqueued", want: "refused", send: enqueueEscaping},
		// The operator may publish jobs.> around Enqueue: the dispatcher
		// checks again, and dead-letters the job without calling anyone.
		{name: "nats: such a job published around Enqueue", want: "dead-lettered", stores: grew{events.StreamJobs: 1, events.StreamDLQ: 1}, send: publishEscaping},
	}
	return cs
}

// sig256 is the right X-Hub-Signature-256 for body.
func sig256(body []byte) string { return githubhook.SignatureValue(webhookSecret, body) }

func hmacSHA1(key, body []byte) []byte {
	m := hmac.New(sha1.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// action is a payload whose action is a.
func action(a string) []byte { return fmt.Appendf(nil, `{"action":%q,"issue":{"id":1}}`, a) }

// padded is a JSON object of n bytes.
func padded(n int) []byte {
	b := append([]byte(`{"zen":"`), bytes.Repeat([]byte("z"), n-10)...)
	return append(b, `"}`...)
}

// odooJSON is an Odoo webhook body of model.
func odooJSON(model string) []byte {
	return fmt.Appendf(nil, `{"_action":"Send Webhook Notification(#7)","_id":7,"_model":%q,"write_date":"2026-11-22 05:14:39"}`, model)
}

// storedAs checks that the last e2e_hostile event without an action was
// stored with the delivery GUID as its ids, as event e2e_hostile, and
// with no header a request injected.
func storedAs(guid string) func(ctx context.Context, s *hostile) error {
	return func(ctx context.Context, s *hostile) error {
		m, err := s.lastGitHub(ctx, "github.e2e_hostile.none")
		if err != nil {
			return err
		}
		if id, ce, ev := m.Header.Get(jetstream.MsgIDHeader), m.Header.Get(events.HeaderID), m.Header.Get(githubhook.HeaderEvent); id != guid || ce != guid || ev != "e2e_hostile" {
			return fmt.Errorf("stored with Nats-Msg-Id %q, ce-id %q, event %q; want %q, %q, e2e_hostile", id, ce, ev, guid, guid)
		}
		for k, v := range m.Header {
			if strings.Contains(strings.ToLower(k+strings.Join(v, "")), "inject") {
				return fmt.Errorf("stored with header %s: %q", k, v)
			}
		}
		return nil
	}
}

// storedOn checks that the last e2e_hostile event was stored on subject,
// and that github.e2e_hostile.* finds it: its action is one token. (No
// route reads e2e_hostile events, as none reads push events: what the
// suite stores stays where it is, and no dead letter comes later.)
func storedOn(subject string) func(ctx context.Context, s *hostile) error {
	return func(ctx context.Context, s *hostile) error {
		m, err := s.lastGitHub(ctx, "github.e2e_hostile.*")
		if err != nil {
			return err
		}
		if m.Subject != subject {
			return fmt.Errorf("stored on %q, want %q", m.Subject, subject)
		}
		return nil
	}
}

// lastGitHub is the last event in stream GITHUB on a subject filter.
func (s *hostile) lastGitHub(ctx context.Context, filter string) (*jetstream.RawStreamMsg, error) {
	st, err := s.h.JS.Stream(ctx, events.StreamGitHub)
	if err != nil {
		return nil, err
	}
	m, err := st.GetLastMsgForSubject(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("no event on %s: %w", filter, err)
	}
	return m, nil
}

// newHostile starts the hub for the suite.
func newHostile(t *testing.T) *hostile {
	t.Helper()
	users := natstest.NewUsers(t)
	opts := natstest.Options(t.TempDir())
	opts.MaxPayload = 1 << 20 // a stock nats-server's
	users.Require(opts)
	srv := natstest.Start(t, opts)
	t.Cleanup(func() { natstest.Shutdown(srv) })
	logs := &natstest.LogBuffer{}
	h := NewHub(t, Options{NATSURL: srv.ClientURL(), Users: users, Log: logs, Tune: func(c *hubconfig.Config) {
		c.Ingester.OdooSources[anySource] = ingester.OdooSource{Token: config.NewSecret(anyToken)}
	}})
	s := &hostile{h: h, logs: logs, users: users, unknown: natstest.NewUsers(t), addr: strings.TrimPrefix(h.Ingester, "http://"), client: newClient()}
	var err error
	if s.push, err = readFixture("push/payload.json"); err != nil {
		t.Fatal(err)
	}
	return s
}

// counts are the watched streams' message counts.
func (s *hostile) counts(t *testing.T, ctx context.Context) map[string]uint64 {
	t.Helper()
	c, err := streamCounts(ctx, s.h.JS)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func streamCounts(ctx context.Context, js jetstream.JetStream) (map[string]uint64, error) {
	c := map[string]uint64{}
	for _, name := range watched {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		c[name] = st.CachedInfo().State.Msgs
	}
	return c, nil
}

// waitCounts waits until the watched streams hold want (a dead letter is
// written after the answer), and says how they differ when ctx ends.
func (s *hostile) waitCounts(ctx context.Context, want map[string]uint64) error {
	var have map[string]uint64
	for {
		c, err := streamCounts(ctx, s.h.JS)
		if err == nil {
			if have = c; equalCounts(have, want) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if have == nil {
				return err
			}
			return fmt.Errorf("the streams hold %v, want %v: something was stored that should not have been, or a legitimate event was not", have, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func equalCounts(a, b map[string]uint64) bool {
	for _, name := range watched {
		if a[name] != b[name] {
			return false
		}
	}
	return true
}
