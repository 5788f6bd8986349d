package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/insightpulse/pulsehub/services/healthmon/ops"
)

// run runs the CLI in-process against url and returns status and outputs.
func runCLI(t *testing.T, url string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	t.Setenv("PULSEHUB_GITHUB_WEBHOOK_SECRET", "cli-test") // the cwd has no hub.yaml; keep validation quiet
	code := Main(context.Background(), append(args, "--nats-url", url), &out, &errb)
	return code, out.String(), errb.String()
}

func startServer(t *testing.T) string {
	t.Helper()
	return natstest.RunHub(t).URL
}

func TestOperatorCommandsTalkToJetStream(t *testing.T) {
	url := startServer(t)
	code, out, errs := runCLI(t, url, "status", "--json")
	var st ops.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Streams) != 7 {
		t.Fatalf("status: %d %q %q", code, out, errs)
	}
	if code, out, _ := runCLI(t, url, "status"); code != 0 || !strings.Contains(out, "GITHUB") || !strings.Contains(out, "no routes") {
		t.Fatalf("status table: %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, url, "dlq", "ls"); code != 0 || !strings.Contains(out, "no dead letters") {
		t.Fatalf("dlq ls: %d %q", code, out)
	}
	if code, _, errs := runCLI(t, url, "replay", "nope", "--since", "1h"); code != 1 || !strings.Contains(errs, "hub status") {
		t.Fatalf("replay of an unknown route: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, url, "dlq", "show", "x"); code != 2 || !strings.Contains(errs, "not a DLQ sequence") {
		t.Fatalf("dlq show x: %d %q", code, errs)
	}
}

func TestJobsCommands(t *testing.T) {
	url := startServer(t)
	if code, out, _ := runCLI(t, url, "jobs", "ls"); code != 0 || !strings.Contains(out, "not created its jobs bucket") {
		t.Fatalf("ls before the dispatcher ran: %d %q", code, out)
	}
	_, js := natstest.Connect(t, url)
	if _, err := jobstate.Open(context.Background(), js, stream.DefaultConfig(), time.Hour); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, url, "jobs", "enqueue", "ocr", "extract", `{"payload":{"attachment_id":7},"identity_key":"att-7","description":"OCR of 7"}`)
	if code != 0 || !strings.Contains(out, "enqueued job") {
		t.Fatalf("enqueue: %d %q %q", code, out, errs)
	}
	id := regexp.MustCompile(`job (\S+) on`).FindStringSubmatch(out)[1]
	if code, out, _ := runCLI(t, url, "jobs", "enqueue", "ocr", "extract", `{"payload":{},"identity_key":"att-7"}`); code != 0 || !strings.Contains(out, "not enqueued") {
		t.Fatalf("duplicate enqueue: %d %q", code, out)
	}
	if code, out, errs := runCLI(t, url, "jobs", "ls"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "OCR of 7") {
		t.Fatalf("ls: %d\n%s\n%s", code, out, errs)
	}
	if code, out, _ := runCLI(t, url, "jobs", "show", id); code != 0 || !strings.Contains(out, `"service": "ocr"`) {
		t.Fatalf("show: %d\n%s", code, out)
	}
	if code, _, errs := runCLI(t, url, "jobs", "show", "nope"); code != 1 || !strings.Contains(errs, "no job") {
		t.Fatalf("show missing: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, url, "jobs", "enqueue", "ocr", "extract", `{"eta":"tomorrow"}`); code != 2 || !strings.Contains(errs, "job body") {
		t.Fatalf("bad job: %d %q", code, errs)
	}
}

func TestCommandsFailFastWithoutNATS(t *testing.T) {
	code, _, errs := runCLI(t, "nats://127.0.0.1:1", "status")
	if code != 1 || !strings.Contains(errs, "Is the hub running") {
		t.Fatalf("%d %q", code, errs)
	}
	if code, _, _ := runCLI(t, "nats://127.0.0.1:1", "nope"); code != 2 {
		t.Fatalf("unknown command: %d", code)
	}
}
