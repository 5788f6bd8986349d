package embedded

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

func TestSyncIntervalIsAlwaysOrADuration(t *testing.T) {
	for _, tc := range []struct {
		in       string
		interval time.Duration
		always   bool
		bad      bool
	}{
		{in: "always", always: true},
		{in: " Always ", always: true},
		{in: "1s", interval: time.Second},
		{in: "2m", interval: 2 * time.Minute},
		{in: "1ms", interval: time.Millisecond},
		{in: "", bad: true},
		{in: "sometimes", bad: true},
		{in: "-1s", bad: true},
		{in: "0s", bad: true},
		{in: "0", bad: true},
		{in: "1", bad: true},
		{in: "1ns", bad: true},
	} {
		c := DefaultConfig()
		c.Sync = tc.in
		ps := c.Validate("embedded")
		_, err := c.Options()
		if tc.bad {
			if len(ps) != 1 || ps[0].Path != "embedded.sync_interval" || !strings.Contains(ps[0].Message, `want "always" or a duration`) {
				t.Errorf("%q: problems %v, want one at embedded.sync_interval", tc.in, ps)
			}
			if err == nil || !strings.Contains(err.Error(), "embedded.sync_interval") {
				t.Errorf("%q: Options() error %v", tc.in, err)
			}
			continue
		}
		if len(ps) != 0 || err != nil {
			t.Errorf("%q: problems %v, error %v", tc.in, ps, err)
			continue
		}
		opts, _ := c.Options()
		if opts.SyncAlways != tc.always || opts.SyncInterval != tc.interval {
			t.Errorf("%q: options sync always %v interval %s, want %v %s", tc.in, opts.SyncAlways, opts.SyncInterval, tc.always, tc.interval)
		}
	}
}

// TestSyncIntervalReachesTheRunningServer starts the embedded server with
// each kind of setting and reads what its JetStream runs with (the hub's
// test in services/hub reads it where an operator does, on /varz).
func TestSyncIntervalReachesTheRunningServer(t *testing.T) {
	type syncCase struct {
		sync     string
		always   bool
		interval time.Duration
	}
	cases := []syncCase{
		{"always", true, 2 * time.Minute}, // the server's background pass keeps its default
		{"1s", false, time.Second},
		{"2m", false, 2 * time.Minute},
	}
	if !slices.ContainsFunc(cases, func(c syncCase) bool { return c.sync == DefaultConfig().Sync }) {
		t.Fatalf("the default %q is not among the cases", DefaultConfig().Sync)
	}
	for _, tc := range cases {
		t.Run(tc.sync, func(t *testing.T) {
			c := DefaultConfig()
			c.Listen, c.Monitor, c.DataDir, c.Sync = "127.0.0.1:-1", "off", t.TempDir(), tc.sync
			c.Auth = AuthNone // the test connects as one client
			srv, err := Start(context.Background(), c, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer Shutdown(srv)
			if jc := srv.JetStreamConfig(); jc == nil || jc.SyncAlways != tc.always || jc.SyncInterval != tc.interval {
				t.Fatalf("JetStream config %+v, want sync always %v interval %s", jc, tc.always, tc.interval)
			}
			// And the store works under it.
			_, js := natstest.Connect(t, srv.ClientURL())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}, Storage: jetstream.FileStorage}); err != nil {
				t.Fatal(err)
			}
			if _, err := js.Publish(ctx, "s", []byte("x")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The hub's field wins over a config_file's sync_interval, as every field
// of the section does.
func TestSyncIntervalWinsOverTheConfigFile(t *testing.T) {
	for _, tc := range []struct{ file, field string }{{"always", "1s"}, {"5s", "always"}} {
		f := filepath.Join(t.TempDir(), "nats.conf")
		if err := os.WriteFile(f, []byte("jetstream { sync_interval: "+tc.file+" }\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		c.ConfigFile, c.Sync = f, tc.field
		opts, err := c.Options()
		if err != nil {
			t.Fatal(err)
		}
		want, always, _ := parseSync(tc.field)
		if opts.SyncAlways != always || opts.SyncInterval != want {
			t.Errorf("file %s, field %s: sync always %v interval %s", tc.file, tc.field, opts.SyncAlways, opts.SyncInterval)
		}
	}
}
