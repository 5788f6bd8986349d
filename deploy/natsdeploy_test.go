package deploy

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"
)

// natsNodes are the compose services running the official nats image,
// each from its file under deploy/nats.
func natsNodes(t *testing.T, c composeFile) []string {
	t.Helper()
	var nodes []string
	for _, name := range slices.Sorted(maps.Keys(c.Services)) {
		if strings.HasPrefix(c.Services[name].Image, "nats:") {
			nodes = append(nodes, name)
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("docker-compose.yml runs NATS nodes %v, want 3", nodes)
	}
	return nodes
}

func TestComposeRunsTheClusterFromDeployNats(t *testing.T) {
	c := loadCompose(t)
	nodes := natsNodes(t, c)
	for _, name := range nodes {
		s := c.Services[name]
		_, tag, _ := strings.Cut(s.Image, ":")
		natsImageTag(t, "service "+name, tag)
		conf := "/etc/nats/" + name + ".conf"
		if strings.Join(s.Command, " ") != "-c "+conf {
			t.Errorf("service %s: command %q, want -c %s", name, s.Command, conf)
		}
		o, err := server.ProcessConfigFile(filepath.Join("nats", name+".conf"))
		if err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
		if o.ServerName != name {
			t.Errorf("service %s runs server_name %q: the routes name the nodes by their compose names", name, o.ServerName)
		}
		var routed []string
		for _, r := range o.Routes {
			routed = append(routed, r.Hostname())
		}
		sort.Strings(routed)
		if strings.Join(routed, ",") != strings.Join(nodes, ",") {
			t.Errorf("%s.conf routes to %v, compose runs %v", name, routed, nodes)
		}
		want := map[string]bool{"./deploy/nats/" + name + ".conf:" + conf + ":ro": false}
		for _, v := range s.Volumes {
			if _, ok := want[v]; ok {
				want[v] = true
			} else if vol, dir, _ := strings.Cut(v, ":"); dir == "/data" && c.Volumes[vol] != nil && strings.HasPrefix(o.StoreDir, "/data/") {
				want["data"] = true
			}
		}
		if len(want) != 2 || !want["data"] || !want["./deploy/nats/"+name+".conf:"+conf+":ro"] {
			t.Errorf("service %s: volumes %v, want its conf read-only and a named volume at /data (store_dir %s)", name, s.Volumes, o.StoreDir)
		}
		if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), fmt.Sprintf("http://127.0.0.1:%d/healthz", o.HTTPPort)) {
			t.Errorf("service %s: healthcheck %v, want /healthz of its monitoring port", name, s.Healthcheck)
		}
		for _, p := range s.Ports {
			if hostIP, container := splitPublished(t, p); hostIP != "127.0.0.1" || container != o.HTTPPort {
				t.Errorf("service %s publishes %q: only monitoring (%d), on loopback", name, p, o.HTTPPort)
			}
		}
	}
}

// checkNATSURL asserts a comma-separated URL list names every node once,
// at the client port.
func checkNATSURL(t *testing.T, where, list string, nodes []string, port int) {
	t.Helper()
	var got []string
	for _, u := range strings.Split(list, ",") {
		pu, err := url.Parse(strings.TrimSpace(u))
		if err != nil || pu.Scheme != "nats" || pu.Port() != strconv.Itoa(port) {
			t.Errorf("%s: %q is not nats://<node>:%d", where, u, port)
			continue
		}
		got = append(got, pu.Hostname())
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(nodes, ",") {
		t.Errorf("%s: PULSEHUB_NATS_URL names %v, want every node %v", where, got, nodes)
	}
}

func TestComposeNATSURLsNameEveryNode(t *testing.T) {
	c := loadCompose(t)
	nodes := natsNodes(t, c)
	o, err := server.ProcessConfigFile(filepath.Join("nats", nodes[0]+".conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, hs := range hubServices {
		checkNATSURL(t, "service "+hs.name, c.Services[hs.name].Environment["PULSEHUB_NATS_URL"], nodes, o.Port)
	}
}

// natsValues is the part of deploy/k8s/nats-values.yaml the checks read.
type natsValues struct {
	Config struct {
		Cluster struct {
			Enabled  bool `yaml:"enabled"`
			Replicas int  `yaml:"replicas"`
		} `yaml:"cluster"`
		JetStream struct {
			Enabled   bool `yaml:"enabled"`
			FileStore struct {
				Enabled bool `yaml:"enabled"`
				PVC     struct {
					Enabled bool   `yaml:"enabled"`
					Size    string `yaml:"size"`
				} `yaml:"pvc"`
			} `yaml:"fileStore"`
		} `yaml:"jetstream"`
		Monitor struct {
			Enabled bool `yaml:"enabled"`
		} `yaml:"monitor"`
		Merge map[string]string `yaml:"merge"`
	} `yaml:"config"`
	Container struct {
		Image struct {
			Repository string `yaml:"repository"`
			Tag        string `yaml:"tag"`
		} `yaml:"image"`
	} `yaml:"container"`
}

func loadNATSValues(t *testing.T) natsValues {
	t.Helper()
	var v natsValues
	if err := yaml.Unmarshal(repoFile(t, "deploy/k8s/nats-values.yaml"), &v); err != nil {
		t.Fatalf("nats-values.yaml: %v", err)
	}
	return v
}

func TestNATSHelmValuesRunAThreeNodeJetStreamCluster(t *testing.T) {
	v := loadNATSValues(t)
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 {
		t.Errorf("cluster %+v, want enabled with 3 replicas", c.Cluster)
	}
	if !c.JetStream.Enabled || !c.JetStream.FileStore.Enabled || !c.JetStream.FileStore.PVC.Enabled || c.JetStream.FileStore.PVC.Size == "" {
		t.Errorf("jetstream %+v, want a file store on a persistent volume", c.JetStream)
	}
	if !c.Monitor.Enabled {
		t.Error("monitoring is off")
	}
	if v.Container.Image.Repository != "nats" {
		t.Errorf("image %+v, want the official nats image", v.Container.Image)
	}
	natsImageTag(t, "nats-values.yaml", v.Container.Image.Tag)
	// The chart writes << X >> as a raw value of nats.conf; the server's
	// own parser reads it.
	payload := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(c.Merge["max_payload"], "<<"), ">>"))
	conf := filepath.Join(t.TempDir(), "payload.conf")
	if err := os.WriteFile(conf, []byte("max_payload: "+payload+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := server.ProcessConfigFile(conf)
	if err != nil || o.MaxPayload < 25<<20 {
		t.Errorf("max_payload %q (%v): below GitHub's 25 MiB deliveries", c.Merge["max_payload"], err)
	}
}

// The release "nats" of the chart runs pods nats-0..N-1 behind the
// headless Service nats-headless: every Deployment names them all.
func TestK8sNATSURLsNameEveryNode(t *testing.T) {
	v := loadNATSValues(t)
	var nodes []string
	for i := range v.Config.Cluster.Replicas {
		nodes = append(nodes, fmt.Sprintf("nats-%d.nats-headless", i))
	}
	k := loadK8s(t)
	for _, hs := range hubServices {
		_, c := k.deployment(t, hs)
		url := ""
		for _, e := range c.Env {
			if e.Name == "PULSEHUB_NATS_URL" {
				url = e.Value
			}
		}
		checkNATSURL(t, "Deployment pulsehub-"+hs.name, url, nodes, 4222)
	}
}
