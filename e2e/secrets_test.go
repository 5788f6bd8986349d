package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
	"github.com/insightpulse/pulsehub/services/hub/cli"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/nats-io/nats.go/jetstream"
)

// echoToken is the echo service's secret: in the hub's config, and in
// everything the echo service answers.
const echoToken = "e2e-echo-token-2f7c9a1d5b"

// newEchoService is a microservice that echoes the request's Authorization
// header and body in its error answer (POST /extract with "fail" in the
// body answers 500), and reports its token in a failing health check.
func newEchoService(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/health":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"status":"fail","checks":{"upstream":{"status":"fail","error":"upstream refused Bearer %s"}}}`, echoToken)
		case bytes.Contains(body, []byte("fail")):
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "cannot process; you sent Authorization: %s, body %s", r.Header.Get("Authorization"), body)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A microservice that echoes its credentials in error answers gets them
// into no log line, no job record, no dead letter, no health status and no
// operator command's output; the next job to it succeeds.
func TestAServiceEchoingItsTokenLeaksItNowhere(t *testing.T) {
	echo := newEchoService(t)
	logs := &natstest.LogBuffer{}
	h := NewHub(t, Options{Log: logs, Tune: func(c *hubconfig.Config) {
		sc := c.Dispatcher.Services["ocr"]
		sc.URL, sc.Auth = echo.URL, config.NewSecret("Bearer "+echoToken)
		sc.Retry = route.Retry{MaxAttempts: 3, InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond}
		c.Dispatcher.Services["echo"] = sc
		c.Healthmon.Interval, c.Healthmon.Consecutive = 100*time.Millisecond, 1
		c.Healthmon.HTTPTargets = map[string]monitor.HTTPTarget{"echo": {URL: echo.URL + "/health"}}
	}})
	h.Start("healthmon")
	t.Cleanup(func() { h.Stop("healthmon") })
	h.operatorEnv(t) // the CLI below connects as a person does: the operator user

	failing := enqueue(t, h, `{"payload":{"please":"fail"},"description":"echoes the token"}`)
	natstest.WaitFor(t, wait, "the failing job dead", func() bool { return jobState(t, h, failing) == jobstate.Dead })
	healthmon := "http://" + h.Config.Healthmon.HTTP.Listen
	natstest.WaitFor(t, wait, "healthmon storing the echo service's status", func() bool {
		return bytes.Contains(kvValue(t, h.JS, events.BucketHealth, "http-echo"), []byte("upstream refused"))
	})
	ok := enqueue(t, h, `{"payload":{"please":"work"}}`)
	natstest.WaitFor(t, wait, "the next job done", func() bool { return jobState(t, h, ok) == jobstate.Done })

	// Everything the hub stored, as stored (not through a scrubbing reader).
	stored := map[string]string{"job record": string(kvValue(t, h.JS, events.BucketJobs, failing))}
	dlq, err := h.JS.Stream(context.Background(), events.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := dlq.GetLastMsgForSubject(context.Background(), "dlq.>")
	if err != nil {
		t.Fatal(err)
	}
	stored["DLQ reason"] = dead.Header.Get(events.HeaderDLQReason)
	stored["health status"] = string(kvValue(t, h.JS, events.BucketHealth, "http-echo"))
	for _, path := range []string{"/", "/status.json"} {
		_, stored["healthmon "+path] = get(t, healthmon+path)
	}
	nats := []string{"--nats-url", h.NATSURL}
	for _, args := range [][]string{{"jobs", "show", failing}, {"jobs", "ls"}, {"dlq", "ls"}, {"dlq", "show", fmt.Sprint(dead.Sequence)}} {
		var out, errs bytes.Buffer
		if code := cli.Main(context.Background(), append(args, nats...), &out, &errs); code != 0 {
			t.Fatalf("hub %s: exit %d: %s", strings.Join(args, " "), code, errs.String())
		}
		stored["hub "+strings.Join(args, " ")] = out.String()
	}
	h.Stop("healthmon")
	h.StopAll()
	stored["log"] = logs.String()

	for where, text := range stored {
		if strings.Contains(text, echoToken) {
			t.Errorf("the token is in the %s:\n%s", where, text)
		}
	}
	for _, where := range []string{"job record", "DLQ reason", "health status", "healthmon /status.json", "hub jobs show " + failing, "log"} {
		if !strings.Contains(stored[where], config.Redacted) {
			t.Errorf("the %s does not show the echo, scrubbed: %s", where, stored[where])
		}
	}
}

// operatorEnv gives the hub CLI run in-process the operator's key, as a
// person's environment would (PULSEHUB_NATS_NKEY_SEED).
func (h *Hub) operatorEnv(t *testing.T) {
	if h.users != nil {
		t.Setenv("PULSEHUB_NATS_NKEY_SEED", h.users.Seed(natsauth.Operator))
	}
}

func enqueue(t *testing.T, h *Hub, job string) string {
	t.Helper()
	var out, errs bytes.Buffer
	if code := cli.Main(context.Background(), []string{"jobs", "enqueue", "echo", "extract", job, "--json", "--nats-url", h.NATSURL}, &out, &errs); code != 0 {
		t.Fatalf("hub jobs enqueue: exit %d: %s", code, errs.String())
	}
	var e struct{ ID string }
	if err := json.Unmarshal(out.Bytes(), &e); err != nil || e.ID == "" {
		t.Fatalf("hub jobs enqueue printed %q: %v", out.String(), err)
	}
	return e.ID
}

func jobState(t *testing.T, h *Hub, id string) jobstate.State {
	t.Helper()
	var r jobstate.Record
	if b := kvValue(t, h.JS, events.BucketJobs, id); b != nil {
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
	}
	return r.State
}

// kvValue is a key's value in a bucket, nil when the key is not there yet.
func kvValue(t *testing.T, js jetstream.JetStream, bucket, key string) []byte {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), bucket)
	if err != nil {
		return nil
	}
	e, err := kv.Get(context.Background(), key)
	if err != nil {
		return nil
	}
	return e.Value()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
