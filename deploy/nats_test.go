package deploy

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

func natsConfigs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("nats", "*.conf"))
	if err != nil || len(files) != 3 {
		t.Fatalf("want 3 files under deploy/nats, got %v (%v)", files, err)
	}
	return files
}

func TestNATSConfigsParseWithTheServersOwnParser(t *testing.T) {
	names := map[string]bool{}
	for _, f := range natsConfigs(t) {
		o, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !o.JetStream || o.StoreDir == "" {
			t.Errorf("%s: JetStream with a file store is required", f)
		}
		if o.Cluster.Name != "pulsehub" || len(o.Routes) != 3 {
			t.Errorf("%s: cluster %q with %d routes, want pulsehub with all 3 nodes", f, o.Cluster.Name, len(o.Routes))
		}
		if o.HTTPPort != 8222 || o.Port != 4222 {
			t.Errorf("%s: ports client %d monitor %d, want 4222 and 8222 (compose and the services use those)", f, o.Port, o.HTTPPort)
		}
		if o.MaxPayload < 25<<20 {
			t.Errorf("%s: max_payload %d is below GitHub's 25 MiB deliveries", f, o.MaxPayload)
		}
		names[o.ServerName] = true
	}
	if len(names) != 3 {
		t.Errorf("server names are not distinct: %v", names)
	}
}

// TestNATSConfigsFormAJetStreamCluster starts three in-process servers
// from the same files (ports and store directories rewritten to free ones)
// and asserts they elect a meta leader and take the hub's streams with 3
// replicas.
func TestNATSConfigsFormAJetStreamCluster(t *testing.T) {
	files := natsConfigs(t)
	opts := make([]*server.Options, len(files))
	clusterPorts := map[string]int{}
	for i, f := range files {
		o, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Fatal(err)
		}
		opts[i] = o
		clusterPorts[o.ServerName] = natstest.FreePort(t)
	}
	for _, o := range opts {
		o.Host, o.Port, o.HTTPPort = "127.0.0.1", natstest.FreePort(t), -1
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", clusterPorts[o.ServerName]
		o.StoreDir = t.TempDir()
		o.NoLog, o.NoSigs = true, true
		var routes []*url.URL
		for _, r := range o.Routes {
			port, ok := clusterPorts[r.Hostname()]
			if !ok {
				t.Fatalf("%s routes to unknown node %s", o.ServerName, r.Host)
			}
			u, _ := url.Parse(fmt.Sprintf("nats-route://127.0.0.1:%d", port))
			routes = append(routes, u)
		}
		o.Routes = routes
	}
	var servers []*server.Server
	var urls []string
	for _, o := range opts {
		s := natstest.Start(t, o)
		t.Cleanup(func() { natstest.Shutdown(s) })
		servers = append(servers, s)
		urls = append(urls, s.ClientURL())
	}
	natstest.WaitFor(t, natstest.Wait, "a meta leader", func() bool {
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	_, js := natstest.Connect(t, strings.Join(urls, ","))
	cfg := stream.DefaultConfig()
	cfg.Replicas = 3
	natstest.EnsureStreams(t, js, cfg) // waits out the meta layer still settling
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.StreamGitHub)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("GITHUB: replicas %d, cluster %+v", info.Config.Replicas, info.Cluster)
	}
	if _, err := js.Publish(ctx, "github.push.none", []byte("{}"), jetstream.WithMsgID("cluster-1")); err != nil {
		t.Fatal(err)
	}
}

// natsImageTag checks a nats image tag: 2.x at the minor of the
// nats-server the hub is built and tested with (JOBS needs 2.12+).
func natsImageTag(t *testing.T, where, tag string) {
	t.Helper()
	m := regexp.MustCompile(`github.com/nats-io/nats-server/v2 v2\.(\d+)\.`).FindSubmatch(repoFile(t, "events/go.mod"))
	if m == nil {
		t.Fatal("events/go.mod requires no nats-server/v2")
	}
	minor, _ := strconv.Atoi(string(m[1]))
	if minor < 12 || !regexp.MustCompile(`^2\.`+string(m[1])+`(\.\d+)?(-[a-z]+)?$`).MatchString(tag) {
		t.Errorf("%s: nats image tag %q, want 2.%d[.patch][-variant] as in events/go.mod (2.12 at least)", where, tag, minor)
	}
}
