package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// harness is a real JetStream, a fake Odoo, and a writer config between
// them.
type harness struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	fake *odootest.Server
	cfg  Config
	logs *syncBuffer
}

// fastRetry keeps retries quick: routes' YAML uses it.
const fastRetry = `{initial_interval: 10ms, max_interval: 50ms, max_attempts: 200}`

func setup(t *testing.T, routes string, opts ...odootest.Option) *harness {
	t.Helper()
	hub := natstest.RunHub(t)
	fake := odootest.New(t, opts...)
	cfg := DefaultConfig()
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	cfg.Odoo = map[string]odoo.Config{"default": fake.Config(odoo.TransportXMLRPC)}
	cfg.CmdRoute.Retry = route.Retry{InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond}
	cfg.pollWait = 50 * time.Millisecond
	if routes != "" {
		if err := yaml.Unmarshal([]byte(routes), &cfg.Routes); err != nil {
			t.Fatal(err)
		}
	}
	return &harness{nc: hub.Conn, js: hub.JS, fake: fake, cfg: cfg, logs: &syncBuffer{}}
}

// start runs the writer until the returned stop is called (or the test
// ends); stop returns Run's error.
func (h *harness) start(t *testing.T) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	deps := service.Deps{Conn: h.nc, JS: h.js, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, deps, h.cfg) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return stop
}

// publish stores an event with id on subject and returns its sequence.
func (h *harness) publish(t *testing.T, subject, id string, body []byte) uint64 {
	t.Helper()
	e := events.New(context.Background(), "test", "com.example.test", body)
	e.ID, e.CorrelationID = id, "corr-"+id
	ack, err := h.js.PublishMsg(context.Background(), e.Msg(subject))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// settled waits until consumer has delivered and settled everything.
func (h *harness) settled(t *testing.T, streamName, consumer string) {
	t.Helper()
	natstest.WaitFor(t, 30*time.Second, consumer+" settled", func() bool {
		c, err := h.js.Consumer(context.Background(), streamName, consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0
	})
}

// dlq returns every dead letter.
func (h *harness) dlq(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	s, err := h.js.Stream(context.Background(), events.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if m, err := s.GetMsg(context.Background(), seq); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// issue is the recorded issues.opened delivery with another id and title.
func issue(t *testing.T, id int, title string, extra map[string]any) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(fixture(t, "github/issues.opened.payload.json"), &d); err != nil {
		t.Fatal(err)
	}
	is := d["issue"].(map[string]any)
	is["id"], is["title"] = id, title
	for k, v := range extra {
		d[k] = v
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is the shared test log sink.
type syncBuffer = natstest.LogBuffer

// withoutWriteDate drops write_date, which a replay touches.
func withoutWriteDate(recs []map[string]any) []map[string]any {
	out := make([]map[string]any, len(recs))
	for i, r := range recs {
		c := make(map[string]any, len(r))
		for k, v := range r {
			if k != "write_date" {
				c[k] = v
			}
		}
		out[i] = c
	}
	return out
}

// get fetches a path of the writer's HTTP server.
func (h *harness) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + h.cfg.HTTP.Listen + path)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// firstDiff describes the first record that differs between two snapshots.
func firstDiff(got, want []map[string]any) string {
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Sprintf("record %d is\n%v\nwas\n%v", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("%d records, was %d", len(got), len(want))
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
