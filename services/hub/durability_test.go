package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSyncIntervalIsCheckedThenReachesTheEmbeddedServer: a bad
// embedded.sync_interval is a config error with its line (from the file)
// or its variable (from the environment), a good one is accepted, and
// `hub run` hands it to the embedded server, as its /varz shows.
func TestSyncIntervalIsCheckedThenReachesTheEmbeddedServer(t *testing.T) {
	bin, err := buildHub()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "hub.yaml")
	check := func(yml string, env ...string) (int, string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "config", "check", file)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	for _, bad := range []string{"sometimes", "-1s", "0s", `""`} {
		code, out := check("ingester: {github: {enabled: false}}\nembedded:\n  sync_interval: " + bad + "\n")
		if code != 1 || !strings.Contains(out, "line 3: embedded.sync_interval: want \"always\" or a duration") {
			t.Errorf("sync_interval %s: exit %d\n%s", bad, code, out)
		}
	}
	code, out := check("ingester: {github: {enabled: false}}\n", "PULSEHUB_EMBEDDED_SYNC_INTERVAL=sometimes")
	if code != 1 || !strings.Contains(out, "embedded.sync_interval") {
		t.Errorf("PULSEHUB_EMBEDDED_SYNC_INTERVAL=sometimes: exit %d\n%s", code, out)
	}
	for _, good := range []string{"always", "1s", "2m"} {
		if code, out := check("ingester: {github: {enabled: false}}\nembedded:\n  sync_interval: " + good + "\n"); code != 0 || !strings.Contains(out, "ok") {
			t.Errorf("sync_interval %s: exit %d\n%s", good, code, out)
		}
	}

	for _, tc := range []struct {
		env      string
		always   bool
		interval time.Duration
	}{
		{"", false, time.Second},          // the default
		{"always", true, 2 * time.Minute}, // nats-server's background pass keeps its 2m under always
		{"250ms", false, 250 * time.Millisecond},
	} {
		var env []string
		if tc.env != "" {
			env = []string{"PULSEHUB_EMBEDDED_SYNC_INTERVAL=" + tc.env}
		}
		h := startHubEnv(t, env)
		h.waitHealthy(t)
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/varz", h.ports["monitor"]))
		if err != nil {
			t.Fatal(err)
		}
		var varz struct {
			JetStream struct {
				Config struct {
					SyncInterval time.Duration `json:"sync_interval"`
					SyncAlways   bool          `json:"sync_always"`
				} `json:"config"`
			} `json:"jetstream"`
		}
		err = json.NewDecoder(resp.Body).Decode(&varz)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := varz.JetStream.Config; got.SyncAlways != tc.always || got.SyncInterval != tc.interval {
			t.Errorf("PULSEHUB_EMBEDDED_SYNC_INTERVAL=%s: /varz jetstream.config %+v", tc.env, got)
		}
		if err := h.stop(t); err != nil {
			t.Fatal(err)
		}
	}
}
