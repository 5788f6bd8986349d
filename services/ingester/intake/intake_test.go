package intake_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPublishFailuresMapTo413And503(t *testing.T) {
	o := natstest.Options(t.TempDir())
	o.MaxPayload = 4 << 10 // a stock-like server that refuses big bodies
	srv := natstest.Start(t, o)
	t.Cleanup(func() { natstest.Shutdown(srv) })
	nc, js := natstest.Connect(t, srv.ClientURL())
	if _, err := js.CreateStream(t.Context(), jetstreamConfig()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	p := &intake.Publisher{Conn: nc, JS: js, Metrics: intake.NewMetrics(reg)}
	e := events.Event{ID: "id-1", Source: "s", Type: "t.x", Data: []byte(strings.Repeat("x", 8<<10))}

	_, err := p.Publish(t.Context(), "github.push.none", e)
	if !errors.Is(err, intake.ErrTooLarge) || intake.Failed(err).Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("over max_payload: %v", err)
	}
	e.Data = []byte(`{}`)
	a, err := p.Publish(t.Context(), "github.push.none", e)
	if err != nil || a.Seq != 1 || a.Stream != "GITHUB" || a.Duplicate {
		t.Fatalf("stored: %+v %v", a, err)
	}
	if res := intake.Stored(http.StatusAccepted, a); res.Outcome != intake.OutcomeStored || res.CorrelationID != "id-1" {
		t.Fatalf("%+v", res)
	}
	if n := testutil.CollectAndCount(reg, "pulsehub_ingester_publish_duration_seconds"); n != 2 {
		t.Fatalf("%d publish latency series, want stored and error", n)
	}
	natstest.Shutdown(srv)
	natstest.WaitFor(t, 10e9, "the client to notice", func() bool { return !nc.IsConnected() })
	_, err = p.Publish(t.Context(), "github.push.none", e)
	if !errors.Is(err, intake.ErrUnavailable) || intake.Failed(err).Status != http.StatusServiceUnavailable {
		t.Fatalf("disconnected: %v", err)
	}
}

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestEndpointAnswersLogsAndCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs strings.Builder
	ep := intake.Endpoint{Source: "test", Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: intake.NewMetrics(reg),
		Handle: func(w http.ResponseWriter, r *http.Request) intake.Result {
			if _, res, ok := intake.ReadBody(w, r, 1<<10); !ok {
				return res
			}
			return intake.Failed(intake.ErrUnavailable)
		}}
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/x", io.NopCloser(failingBody{})))
	if rec.Code != http.StatusBadRequest || !strings.Contains(logs.String(), "connection reset") {
		t.Fatalf("read error: %d %s", rec.Code, logs.String())
	}
	rec = httptest.NewRecorder()
	ep.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("{}")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("503: %d %v", rec.Code, rec.Header())
	}
	if got := counter(t, reg, "test", "503", intake.OutcomeUnavailable); got != 1 {
		t.Fatalf("requests_total{503} = %v", got)
	}
	r := httptest.NewRequest(http.MethodPost, "/x", nil)
	r.Header.Set("Content-Type", "Application/JSON; charset=utf-8")
	if intake.MediaType(r) != "application/json" {
		t.Fatal(intake.MediaType(r))
	}
	r.Header.Set("Content-Type", "; broken")
	if intake.MediaType(r) != "" {
		t.Fatal("broken media type parsed")
	}
}

// With AcceptedLevel Debug, a stored request writes no line at Info (it is
// still counted), a refusal still does, and at Debug the stored one is
// there with its correlation id.
func TestAcceptedLevelLeavesOnlyStoredRequestsOut(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		reg := prometheus.NewRegistry()
		var logs strings.Builder
		ep := intake.Endpoint{Source: "test", Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: level})),
			Metrics: intake.NewMetrics(reg), AcceptedLevel: slog.LevelDebug,
			Handle: func(w http.ResponseWriter, r *http.Request) intake.Result {
				if r.Header.Get("X-Refuse") != "" {
					res := intake.Reject(http.StatusUnauthorized, intake.OutcomeBadSignature, "signature missing or wrong")
					res.CorrelationID = "refused-1"
					return res
				}
				return intake.Stored(http.StatusAccepted, intake.Accepted{ID: "stored-1", Stream: "GITHUB", Seq: 7})
			}}
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("{}")))
		refused := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("{}"))
		refused.Header.Set("X-Refuse", "1")
		rec2 := httptest.NewRecorder()
		ep.ServeHTTP(rec2, refused)
		if rec.Code != http.StatusAccepted || rec2.Code != http.StatusUnauthorized {
			t.Fatalf("answers %d, %d", rec.Code, rec2.Code)
		}
		if got := counter(t, reg, "test", "202", intake.OutcomeStored); got != 1 {
			t.Fatalf("level %v: requests_total{202} = %v", level, got)
		}
		if !strings.Contains(logs.String(), `"correlation_id":"refused-1"`) || !strings.Contains(logs.String(), `"level":"WARN"`) {
			t.Fatalf("level %v: the refusal is not logged: %s", level, logs.String())
		}
		if stored := strings.Contains(logs.String(), `"correlation_id":"stored-1"`); stored != (level == slog.LevelDebug) {
			t.Fatalf("level %v: stored request logged = %v: %s", level, stored, logs.String())
		}
	}
}

// PublishJS has room for more messages awaiting their PubAck than
// nats.go's default 4,000 (after which a publish waits, then fails):
// 4,500 sent to a subscriber that never answers all go out at once.
func TestPublishJSHasRoomForEveryRequestInFlight(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, srv.ClientURL())
	sub, err := nc.SubscribeSync("silent.x") // receives, never acknowledges
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	js, err := intake.PublishJS(nc)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 4500 {
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: "silent.x", Data: []byte("x")}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("4,500 asynchronous publishes took %s", took)
	}
}
