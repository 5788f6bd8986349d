package page

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/insightpulse/pulsehub/services/healthmon/internal/healthtest"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sampleView() View {
	return View{Overall: status.Down, GeneratedAt: now, Refresh: 15,
		Targets: []Target{
			{Name: "odoo-main", Kind: "odoo", Status: status.Down, LatencyMS: 5001, Message: "no answer <b>", Since: now.Add(-3 * time.Minute), CheckedAt: now.Add(-4 * time.Second)},
			{Name: "http-ocr", Kind: "http", Status: status.Critical, Seen: status.OK, LatencyMS: 12, Message: "HTTP 500", Since: now.Add(-2 * time.Hour), CheckedAt: now},
			{Name: "route-orders", Kind: "consumer", Status: status.Warning, Message: "3 dead letters", Since: now.Add(-26 * time.Hour), CheckedAt: now},
			{Name: "nats", Kind: "nats", Status: status.OK, LatencyMS: 0.8, Since: now.Add(-time.Minute), CheckedAt: now},
			{Name: "http-new", Kind: "http", Status: status.Unknown},
		},
		Routes: []Route{
			{Route: "orders", Stream: "ODOO", Status: status.Warning, Pending: 1250, DLQDepth: 3, Advisories: 2, LastActive: now.Add(-time.Minute)},
			{Route: "issues", Stream: "GITHUB", Status: status.OK, Replaying: true, ReplayLeft: 40, Waiting: 1},
		}}
}

func TestPageShowsEveryTargetAndRoute(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, sampleView()); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	rows := healthtest.Rows(doc)
	targets := map[string][]string{}
	for k, v := range rows {
		if name, ok := strings.CutPrefix(k, "target:"); ok {
			targets[name] = v
		}
	}
	want := map[string][]string{ // name, kind, status, latency, message, since, checked
		"odoo-main":    {"odoo-main", "odoo", "▼ Down", "5.00 s", "no answer <b>", "for 3 min since 2026-03-01 11:57:00 UTC", "4 s ago"},
		"http-ocr":     {"http-ocr", "http", "✕ Critical last probe: ✓ OK", "12 ms", "HTTP 500", "for 2 h since 2026-03-01 10:00:00 UTC", "just now"},
		"route-orders": {"route-orders", "consumer", "! Warning", "0 ms", "3 dead letters", "for 1 d 2 h since 2026-02-28 10:00:00 UTC", "just now"},
		"nats":         {"nats", "nats", "✓ OK", "1 ms", "", "for 1 min since 2026-03-01 11:59:00 UTC", "just now"},
		"http-new":     {"http-new", "http", "? Unknown", "–", "", "–", "never"},
	}
	if len(targets) != len(want) {
		t.Fatalf("target rows = %v", targets)
	}
	for name, cols := range want {
		if got := targets[name]; strings.Join(got, "|") != strings.Join(cols, "|") {
			t.Errorf("row %s:\n got %q\nwant %q", name, got, cols)
		}
	}
	if got := strings.Join(rows["route:orders"], "|"); got != "orders|ODOO|! Warning|1250 nobody pulling|0|0|3|2|no|1 min ago" {
		t.Errorf("orders row = %q", got)
	}
	if got := strings.Join(rows["route:issues"], "|"); got != "issues|GITHUB|✓ OK|0|0|0|0|0|yes, 40 left|never" {
		t.Errorf("issues row = %q", got)
	}
	page := b.String()
	for _, must := range []string{`<meta http-equiv="refresh" content="15">`, `id="overall">▼ Down`, `no answer &lt;b&gt;`} {
		if !strings.Contains(page, must) {
			t.Errorf("page lacks %s", must)
		}
	}
	for _, never := range []string{"<script", "src=", `href="http`, "<link"} {
		if strings.Contains(page, never) {
			t.Errorf("page holds %s: it must work without scripts or external assets", never)
		}
	}
}

func TestPageWithNothingYet(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, View{Overall: status.Unknown, GeneratedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"No targets yet", "No routes", `content="15"`} {
		if !strings.Contains(b.String(), must) {
			t.Errorf("empty page lacks %q", must)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("client went away") }

func TestRenderReportsAWriteFailure(t *testing.T) {
	if err := Render(failingWriter{}, sampleView()); err == nil {
		t.Fatal("no error from a failing writer")
	}
}

func TestHumanAndAgo(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0 s"},
		{42 * time.Second, "42 s"},
		{59*time.Minute + 59*time.Second, "59 min"},
		{time.Hour, "1 h"},
		{2*time.Hour + 5*time.Minute, "2 h 5 min"},
		{48 * time.Hour, "2 d"},
		{75 * time.Hour, "3 d 3 h"},
	}
	for _, tc := range tests {
		if got := Human(tc.d); got != tc.want {
			t.Errorf("Human(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if Ago(time.Time{}, now) != "never" || Ago(now.Add(-time.Second), now) != "just now" || Ago(now.Add(-time.Hour), now) != "1 h ago" {
		t.Error("Ago")
	}
	if Latency(999.4) != "999 ms" || Latency(2500) != "2.50 s" || Clock(time.Time{}) != "" {
		t.Error("Latency or Clock")
	}
}

func TestCountsWorstFirst(t *testing.T) {
	got := sampleView().Counts()
	var s []string
	for _, c := range got {
		s = append(s, string(c.Status))
	}
	if strings.Join(s, ",") != "down,critical,warning,ok,unknown" {
		t.Fatalf("counts = %v", got)
	}
}
