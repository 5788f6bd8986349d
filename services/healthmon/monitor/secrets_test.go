package monitor

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// A target whose health answer quotes a configured secret (a service
// reporting which credentials its upstream refused): the secret is in
// none of what healthmon stores, publishes, serves or logs.
func TestHealthOutputHoldsNoSecret(t *testing.T) {
	const token = "health-token-8e3b07"
	config.NewSecret("Bearer " + token)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"fail","checks":{"upstream":{"status":"fail","error":"refused Authorization: Bearer `+token+`"}},`+
			`"db_server_status":true}`)
	}))
	defer svc.Close()
	e := newEnv(t, false)
	logs := &natstest.LogBuffer{}
	e.deps.Logger = service.NewLogger(logs, service.LogConfig{Level: "debug"}, "healthmon")
	c := testConfig()
	c.HTTPTargets = map[string]HTTPTarget{"ocr": {URL: svc.URL + "/health"}}
	m := newMonitor(t, e, c)
	base, stop := start(t, m)
	natstest.WaitFor(t, wait, "http-ocr critical", func() bool { return statusOf(m, "http-ocr") == status.Critical })
	natstest.WaitFor(t, wait, "the transition published", func() bool { return len(transitions(t, e.js, "http-ocr")) > 0 })

	var shown []string
	for _, path := range []string{"/", "/status.json"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		shown = append(shown, path+": "+string(b))
	}
	for _, r := range history(t, e.js, "http-ocr") {
		b, _ := json.Marshal(r)
		shown = append(shown, "KV: "+string(b))
	}
	for _, m := range transitions(t, e.js, "http-ocr") {
		shown = append(shown, "HEALTH: "+string(m.Data))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	shown = append(shown, "log: "+logs.String())
	for _, s := range shown {
		if strings.Contains(s, token) {
			t.Errorf("the token is shown: %s", s)
		}
	}
	if !strings.Contains(shown[1], "refused Authorization: [redacted]") {
		t.Errorf("status.json lacks the scrubbed message: %s", shown[1])
	}
}
