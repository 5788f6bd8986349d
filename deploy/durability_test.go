package deploy

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/insightpulse/pulsehub/services/hub/embedded"
	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"
)

// TestNATSClustersSyncAsTheEmbeddedServerDoes: the compose nodes and the
// Helm values fsync JetStream's store as often as `hub run`'s default
// (README, "Durability"), not at nats-server's 2 minutes.
func TestNATSClustersSyncAsTheEmbeddedServerDoes(t *testing.T) {
	want := embeddedSync(t)
	secrets, _ := natsSecrets(t) // the nodes' config includes auth.conf (public nkeys from the environment) and TLS files
	for _, f := range natsConfigs(t) {
		o := loadNATSConf(t, f, secrets)
		if !sameSync(o, want) {
			t.Errorf("%s: jetstream sync always %v interval %s, want %v %s (embedded.sync_interval %s)", f, o.SyncAlways, o.SyncInterval,
				want.SyncAlways, want.SyncInterval, embedded.DefaultSyncInterval)
		}
	}
	var v struct {
		Config struct {
			JetStream struct {
				Merge map[string]string `yaml:"merge"`
			} `yaml:"jetstream"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(repoFile(t, "deploy/k8s/nats-values.yaml"), &v); err != nil {
		t.Fatal(err)
	}
	// The chart merges config.jetstream.merge into nats.conf's jetstream
	// block, a string value quoted; the server's own parser reads it.
	conf := filepath.Join(t.TempDir(), "sync.conf")
	body := "jetstream { store_dir: " + strconv.Quote(t.TempDir()) + ", sync_interval: " + strconv.Quote(v.Config.JetStream.Merge["sync_interval"]) + " }\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := server.ProcessConfigFile(conf)
	if err != nil || !sameSync(o, want) {
		t.Errorf("nats-values.yaml config.jetstream.merge.sync_interval %q (%v), want %s", v.Config.JetStream.Merge["sync_interval"], err, embedded.DefaultSyncInterval)
	}
}

// embeddedSync is what the embedded server's default makes of the sync.
func embeddedSync(t *testing.T) *server.Options {
	t.Helper()
	c := embedded.DefaultConfig()
	c.DataDir = t.TempDir()
	o, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// sameSync compares two servers' sync settings; under always the interval
// (of the background pass for what no write synced) is the server's own.
func sameSync(o, want *server.Options) bool {
	return o.SyncAlways == want.SyncAlways && (want.SyncAlways || o.SyncInterval == want.SyncInterval)
}
