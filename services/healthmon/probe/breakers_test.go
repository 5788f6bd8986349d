package probe

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

func serving(path string, code int, body string) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	})
	return httptest.NewServer(mux)
}

func TestBreakersStates(t *testing.T) {
	// What the dispatcher serves, as it serves it.
	body, err := json.Marshal(wire.Breakers{
		"ocr":      {Service: "ocr", State: wire.BreakerClosed, Capacity: 2},
		"llm":      {Service: "llm", State: wire.BreakerOpen, TotalFailures: 12, OpenedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		"agent":    {Service: "agent", State: wire.BreakerHalfOpen},
		"Odd_Name": {State: "melted"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := serving("/breakers", 200, string(body))
	defer srv.Close()
	rs, err := (&Breakers{URL: srv.URL + "/"}).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for _, r := range rs {
		if r.Kind != KindBreaker || !IsTargetName(r.Target) {
			t.Errorf("result %+v", r)
		}
		got[r.Target] = r
	}
	want := map[string]status.Status{"breaker-ocr": status.OK, "breaker-llm": status.Critical, "breaker-agent": status.Warning}
	for target, s := range want {
		if got[target].Status != s {
			t.Errorf("%s = %s %q, want %s", target, got[target].Status, got[target].Message, s)
		}
	}
	llm := got["breaker-llm"].Details
	if len(rs) != 4 || llm["total_failures"] != float64(12) || llm["service"] != "llm" || llm["state"] != "open" ||
		llm["opened_at"] != "2026-01-02T03:04:05Z" || got["breaker-ocr"].Details["opened_at"] != nil {
		t.Fatalf("results = %+v", rs)
	}
	odd := got[TargetName("breaker", "Odd_Name")]
	if odd.Status != status.Warning || !strings.Contains(odd.Message, `unknown state "melted"`) || odd.Details["service"] != "Odd_Name" {
		t.Fatalf("odd breaker = %+v", odd)
	}
}

func TestBreakersErrors(t *testing.T) {
	notFound := serving("/other", 200, ``)
	defer notFound.Close()
	bad := serving("/breakers", 200, `[1, 2]`)
	defer bad.Close()
	for name, u := range map[string]string{
		"no breakers endpoint": notFound.URL,
		"not an object":        bad.URL,
		"unreachable":          "http://127.0.0.1:" + strconv.Itoa(natstest.FreePort(t)),
	} {
		if rs, err := (&Breakers{URL: u}).Check(context.Background()); err == nil {
			t.Errorf("%s: no error, results %+v", name, rs)
		}
	}
}
