package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/insightpulse/pulsehub/deploy/natssecrets"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"
)

// natsNodes are the compose services running the official nats image's
// server, each from its file under deploy/nats (nats-volumes, the one-shot
// that prepares their volumes, runs the same image with another
// entrypoint).
func natsNodes(t *testing.T, p *types.Project) []string {
	t.Helper()
	var nodes []string
	for _, name := range slices.Sorted(slices.Values(p.ServiceNames())) {
		s := p.Services[name]
		if strings.HasPrefix(s.Image, "nats:") && len(s.Entrypoint) == 0 {
			nodes = append(nodes, name)
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("docker-compose.yml runs NATS nodes %v, want 3", nodes)
	}
	return nodes
}

func TestComposeRunsTheClusterFromDeployNats(t *testing.T) {
	p := loadCompose(t, dotEnv(t))
	nodes := natsNodes(t, p)
	secrets, _ := natsSecrets(t)
	vars := composeVariables(t)
	volumes := composeService(t, p, "nats-volumes")
	for _, name := range nodes {
		s := composeService(t, p, name)
		_, tag, _ := strings.Cut(s.Image, ":")
		natsImageTag(t, "service "+name, tag)
		conf := "/etc/nats/" + name + ".conf"
		if strings.Join(s.Command, " ") != "-c "+conf {
			t.Errorf("service %s: command %q, want -c %s", name, s.Command, conf)
		}
		o := loadNATSConf(t, filepath.Join("nats", name+".conf"), secrets)
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
		// Its conf and the users it includes, read-only; its store on a
		// named volume.
		want := map[string]bool{repoPath(t, "deploy/nats/"+name+".conf") + ":" + conf: false,
			repoPath(t, "deploy/nats/auth.conf") + ":/etc/nats/auth.conf": false, "data": false}
		for _, v := range s.Volumes {
			key := v.Source + ":" + v.Target
			if _, ok := want[key]; ok && v.Type == types.VolumeTypeBind && v.ReadOnly {
				want[key] = true
			} else if v.Type == types.VolumeTypeVolume && v.Target == "/data" && p.Volumes[v.Source].Name != "" && strings.HasPrefix(o.StoreDir, "/data/") {
				want["data"] = true
			} else {
				t.Errorf("service %s mounts %s at %s", name, v.Source, v.Target)
			}
		}
		for v, ok := range want {
			if !ok {
				t.Errorf("service %s: volumes %+v lack %s (store_dir %s)", name, s.Volumes, v, o.StoreDir)
			}
		}
		// Its certificate, key and CA: the files natssecrets makes, as
		// secrets where its conf reads them.
		got := map[string]string{}
		for _, sec := range s.Secrets {
			rel, _ := filepath.Rel(repoPath(t, "deploy/secrets"), p.Secrets[sec.Source].File)
			got[sec.Target] = rel
		}
		for target, file := range map[string]string{"/etc/nats/tls/server.pem": natssecrets.ServerCertFile(""),
			"/etc/nats/tls/server-key.pem": natssecrets.ServerKeyFile(""), "/etc/nats/tls/ca.pem": natssecrets.CAFile("")} {
			if got[target] != file {
				t.Errorf("service %s: %s is secret file %q, want deploy/secrets/%s", name, target, got[target], file)
			}
		}
		if len(got) != 3 {
			t.Errorf("service %s is given the secrets %v, want its TLS files only", name, got)
		}
		// Every user's public key, required, and no seed.
		for _, u := range natsauth.Users() {
			if !vars[natsauth.NkeyVar(u)].Required {
				t.Errorf("service %s: %s is not required from .env", name, natsauth.NkeyVar(u))
			}
			if _, ok := s.Environment[natsauth.NkeyVar(u)]; !ok {
				t.Errorf("service %s is not given %s", name, natsauth.NkeyVar(u))
			}
		}
		for k := range s.Environment {
			if strings.HasSuffix(k, "_SEED") {
				t.Errorf("service %s is given the seed %s", name, k)
			}
		}
		if s.HealthCheck == nil || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), fmt.Sprintf("http://127.0.0.1:%d/healthz", o.HTTPPort)) {
			t.Errorf("service %s: healthcheck %v, want /healthz of its monitoring port", name, s.HealthCheck)
		}
		for _, pc := range s.Ports {
			if pc.HostIP != "127.0.0.1" || int(pc.Target) != o.HTTPPort {
				t.Errorf("service %s publishes %+v: only monitoring (%d), on loopback", name, pc, o.HTTPPort)
			}
		}
		// Hardened: not root, read-only root, no capabilities, a memory
		// limit with nats-server's Go limit at ~90 % of it; started once
		// its volume belongs to its user.
		uid, _, _ := strings.Cut(s.User, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 || !s.ReadOnly || strings.Join(s.CapDrop, ",") != "ALL" ||
			!slices.Contains(s.SecurityOpt, "no-new-privileges:true") || s.Restart != "unless-stopped" {
			t.Errorf("service %s: user %q read_only %v cap_drop %v security_opt %v restart %q", name, s.User, s.ReadOnly, s.CapDrop, s.SecurityOpt, s.Restart)
		}
		checkGoMemLimit(t, "service "+name, envValue(s, "GOMEMLIMIT"), int64(s.MemLimit))
		if s.DependsOn["nats-volumes"].Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("service %s does not wait for nats-volumes", name)
		}
		if !slices.Equal(volumes.Entrypoint[:3], []string{"chown", "-R", s.User}) {
			t.Errorf("nats-volumes runs %q: want chown -R %s", volumes.Entrypoint, s.User)
		}
		mounted := false
		for _, v := range volumes.Volumes {
			for _, nv := range s.Volumes {
				if nv.Type == types.VolumeTypeVolume && v.Source == nv.Source && slices.Contains(volumes.Entrypoint, v.Target) {
					mounted = true
				}
			}
		}
		if !mounted {
			t.Errorf("nats-volumes does not chown the volume of %s", name)
		}
	}
	if strings.Join(volumes.CapDrop, ",") != "ALL" || strings.Join(volumes.CapAdd, ",") != "CHOWN" || !volumes.ReadOnly || volumes.Restart != "no" {
		t.Errorf("nats-volumes: cap_drop %v cap_add %v read_only %v restart %q: want CHOWN alone, once", volumes.CapDrop, volumes.CapAdd, volumes.ReadOnly, volumes.Restart)
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
	p := loadCompose(t, dotEnv(t))
	nodes := natsNodes(t, p)
	secrets, _ := natsSecrets(t)
	o := loadNATSConf(t, filepath.Join("nats", nodes[0]+".conf"), secrets)
	for _, hs := range hubServices {
		checkNATSURL(t, "service "+hs.name, envValue(composeService(t, p, hs.name), "PULSEHUB_NATS_URL"), nodes, o.Port)
	}
}

// Each service authenticates with its own user's seed, a secret file of
// its own (the one natssecrets writes), and verifies the nodes with the CA
// mounted read-only; no other seed reaches it.
func TestComposeGivesEachServiceItsOwnNATSUserAndTheCA(t *testing.T) {
	p := loadCompose(t, dotEnv(t))
	for _, hs := range hubServices {
		s := composeService(t, p, hs.name)
		seed := natsauth.SeedVar(hs.name)
		if got := envValue(s, "PULSEHUB_NATS_NKEY_SEED_FILE"); got != "/run/secrets/"+seed {
			t.Errorf("service %s: PULSEHUB_NATS_NKEY_SEED_FILE %q, want /run/secrets/%s", hs.name, got, seed)
		}
		for _, sec := range s.Secrets {
			if strings.HasSuffix(sec.Source, "_SEED") && sec.Source != seed {
				t.Errorf("service %s is given %s", hs.name, sec.Source)
			}
		}
		if rel, _ := filepath.Rel(repoPath(t, "deploy/secrets"), p.Secrets[seed].File); rel != natssecrets.SeedFile("", hs.name) {
			t.Errorf("secret %s is deploy/secrets/%s, natssecrets writes %s", seed, rel, natssecrets.SeedFile("", hs.name))
		}
		ca := envValue(s, "PULSEHUB_NATS_CA_FILE")
		found := false
		for _, v := range s.Volumes {
			found = found || (v.Source == repoPath(t, "deploy/secrets/tls/ca.pem") && v.Target == ca && v.ReadOnly)
		}
		if ca == "" || !found {
			t.Errorf("service %s: CA file %q is not deploy/secrets/tls/ca.pem mounted read-only (volumes %+v)", hs.name, ca, s.Volumes)
		}
	}
}

// natsValues is the part of deploy/k8s/nats-values.yaml the checks read.
type natsValues struct {
	Config struct {
		Cluster struct {
			Enabled  bool          `yaml:"enabled"`
			Replicas int           `yaml:"replicas"`
			TLS      chartTLSValue `yaml:"tls"`
		} `yaml:"cluster"`
		NATS struct {
			TLS chartTLSValue `yaml:"tls"`
		} `yaml:"nats"`
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
		Merge map[string]any `yaml:"merge"`
	} `yaml:"config"`
	TLSCA struct {
		Enabled       bool   `yaml:"enabled"`
		ConfigMapName string `yaml:"configMapName"`
		Key           string `yaml:"key"`
	} `yaml:"tlsCA"`
	Container struct {
		Image struct {
			Repository string `yaml:"repository"`
			Tag        string `yaml:"tag"`
		} `yaml:"image"`
	} `yaml:"container"`
}

// chartTLSValue is a TLS block of the chart's values (config.nats.tls,
// config.cluster.tls).
type chartTLSValue struct {
	Enabled    bool              `yaml:"enabled"`
	SecretName string            `yaml:"secretName"`
	CA         string            `yaml:"ca"`
	Merge      map[string]string `yaml:"merge"`
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
	raw, _ := c.Merge["max_payload"].(string)
	payload := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(raw, "<<"), ">>"))
	conf := filepath.Join(t.TempDir(), "payload.conf")
	if err := os.WriteFile(conf, []byte("max_payload: "+payload+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := server.ProcessConfigFile(conf)
	if err != nil || o.MaxPayload < 25<<20 {
		t.Errorf("max_payload %q (%v): below GitHub's 25 MiB deliveries", raw, err)
	}
	// TLS 1.3 on the client port (clients verify with ConfigMap nats-ca)
	// and mutual TLS 1.3 on the routes, from Secret nats-tls.
	if n := c.NATS.TLS; !n.Enabled || n.SecretName == "" || n.Merge["min_version"] != "1.3" {
		t.Errorf("config.nats.tls %+v, want enabled from a Secret with min_version 1.3", n)
	}
	if r := c.Cluster.TLS; !r.Enabled || r.SecretName == "" || r.CA == "" || r.Merge["min_version"] != "1.3" {
		t.Errorf("config.cluster.tls %+v, want enabled from a Secret, its ca (routes verify each other) and min_version 1.3", r)
	}
	if ca := v.TLSCA; !ca.Enabled || ca.ConfigMapName == "" || ca.Key == "" {
		t.Errorf("tlsCA %+v, want the clients' CA from a ConfigMap", ca)
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
		checkNATSURL(t, "Deployment pulsehub-"+hs.name, envOf(c, "PULSEHUB_NATS_URL"), nodes, 4222)
	}
}

// helmUsers is the users block of nats-values.yaml (config.merge): the
// natsauth users as the chart's YAML, each public nkey a raw << $VAR >>
// the node reads from its environment.
func helmUsers() string {
	var b strings.Builder
	b.WriteString("    # BEGIN users: generated from events/natsauth (go test ./deploy -run TestNATSHelmValuesGrantExactlyNatsauthsPermissions -update); do not edit.\n")
	b.WriteString("    authorization:\n      users:\n")
	for _, u := range natsauth.Users() {
		p := natsauth.MustFor(u)
		fmt.Fprintf(&b, "        # %s\n        - nkey: << $%s >>\n          permissions:\n", u, natsauth.NkeyVar(u))
		for _, kind := range []struct {
			name     string
			subjects []string
		}{{"publish", p.Publish}, {"subscribe", p.Subscribe}} {
			fmt.Fprintf(&b, "            %s:\n              allow:\n", kind.name)
			for _, s := range kind.subjects {
				fmt.Fprintf(&b, "                - %q\n", s)
			}
		}
	}
	b.WriteString("    # END users\n")
	return b.String()
}

var usersBlock = regexp.MustCompile(`(?s)    # BEGIN users[^\n]*\n.*?    # END users\n`)

// The chart's config.merge.authorization grants exactly natsauth's
// permissions: rendered as the chart renders it (JSON, << X >> raw), read
// by nats-server's parser with the public keys in the environment.
func TestNATSHelmValuesGrantExactlyNatsauthsPermissions(t *testing.T) {
	file := filepath.Join("k8s", "nats-values.yaml")
	if *update {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !usersBlock.Match(b) {
			t.Fatalf("%s has no # BEGIN users ... # END users block", file)
		}
		if err := os.WriteFile(file, usersBlock.ReplaceAll(b, []byte(strings.ReplaceAll(helmUsers(), "$", "$$"))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := repoFile(t, "deploy/k8s/nats-values.yaml")
	if got := usersBlock.Find(b); string(got) != helmUsers() {
		t.Fatal("the users of deploy/k8s/nats-values.yaml differ from events/natsauth: go test ./deploy -run TestNATSHelmValuesGrantExactlyNatsauthsPermissions -update")
	}
	var v struct {
		Config struct {
			Merge map[string]any `yaml:"merge"`
		} `yaml:"config"`
		Container struct {
			Env map[string]yaml.Node `yaml:"env"` // a value, or {valueFrom: ...}
		} `yaml:"container"`
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	// As the chart's toPrettyRawJson: no HTML escaping.
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"authorization": v.Config.Merge["authorization"]}); err != nil {
		t.Fatal(err)
	}
	conf := regexp.MustCompile(`"<<\s+(.*)\s+>>"`).ReplaceAll(js.Bytes(), []byte("$1"))
	f := filepath.Join(t.TempDir(), "auth.conf")
	if err := os.WriteFile(f, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	_, res := natsSecrets(t)
	o, err := server.ProcessConfigFile(f)
	if err != nil {
		t.Fatalf("the chart's authorization as nats-server reads it: %v", err)
	}
	checkNkeyUsers(t, "nats-values.yaml", o.Nkeys, res.Public)
	// The nodes get every public key from pulsehub-secrets, and no seed.
	for _, u := range natsauth.Users() {
		var env struct {
			ValueFrom struct {
				SecretKeyRef struct {
					Name string `yaml:"name"`
					Key  string `yaml:"key"`
				} `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		}
		node := v.Container.Env[natsauth.NkeyVar(u)]
		_ = node.Decode(&env)
		ref := env.ValueFrom.SecretKeyRef
		if ref.Name != "pulsehub-secrets" || ref.Key != natsauth.NkeyVar(u) {
			t.Errorf("nats-values.yaml: container env %s from %+v, want key %s of pulsehub-secrets", natsauth.NkeyVar(u), ref, natsauth.NkeyVar(u))
		}
	}
	for k := range v.Container.Env {
		if strings.HasSuffix(k, "_SEED") {
			t.Errorf("nats-values.yaml: the nodes are given the seed %s", k)
		}
	}
}
