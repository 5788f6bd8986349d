package deploy

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/insightpulse/pulsehub/deploy/natssecrets"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/nats-io/nats-server/v2/server"
)

func natsConfigs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("nats", "nats-*.conf"))
	if err != nil || len(files) != 3 {
		t.Fatalf("want 3 node files under deploy/nats, got %v (%v)", files, err)
	}
	return files
}

// natsSecrets generates what deploy/cmd/natssecrets makes (certificates,
// nkeys) in a temporary directory and puts the public nkeys in the
// environment, as compose hands them to the nodes.
func natsSecrets(t *testing.T) (string, natssecrets.Result) {
	t.Helper()
	dir := t.TempDir()
	res, err := natssecrets.Generate(natssecrets.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range natsauth.Users() {
		t.Setenv(natsauth.NkeyVar(u), res.Public[u])
	}
	return dir, res
}

// loadNATSConf parses a node's file with nats-server's own parser as the
// node sees it in its container: the certificates under secrets/tls at
// /etc/nats/tls, auth.conf beside it, the public nkeys in the environment
// (natsSecrets).
func loadNATSConf(t *testing.T, file, secrets string) *server.Options {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{file, filepath.Join("nats", "auth.conf")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/etc/nats/tls/"), []byte(filepath.Join(secrets, "tls")+"/"))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o, err := server.ProcessConfigFile(filepath.Join(dir, filepath.Base(file)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return o
}

func TestNATSConfigsParseWithTheServersOwnParser(t *testing.T) {
	secrets, _ := natsSecrets(t)
	names := map[string]bool{}
	for _, f := range natsConfigs(t) {
		o := loadNATSConf(t, f, secrets)
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
		// TLS 1.3 on the client port, mutual TLS 1.3 between the nodes.
		if c := o.TLSConfig; c == nil || c.MinVersion != tls.VersionTLS13 || len(c.Certificates) != 1 {
			t.Errorf("%s: the client port is not TLS 1.3 with a certificate", f)
		}
		if c := o.Cluster.TLSConfig; c == nil || c.MinVersion != tls.VersionTLS13 || c.ClientAuth != tls.RequireAndVerifyClientCert {
			t.Errorf("%s: the cluster port is not TLS 1.3 with the peers' certificates verified", f)
		}
		if o.NoAuthUser != "" || o.Username != "" || o.Authorization != "" || len(o.Users) > 0 {
			t.Errorf("%s: authentication other than the natsauth nkeys", f)
		}
		names[o.ServerName] = true
	}
	if len(names) != 3 {
		t.Errorf("server names are not distinct: %v", names)
	}
}

var update = flag.Bool("update", false, "rewrite the generated deployment files (deploy/nats/auth.conf, the users of k8s/nats-values.yaml)")

// deploy/nats/auth.conf is natsauth.Conf(): the one definition of who may
// do what, in the nodes' configuration.
func TestNATSAuthConfIsNatsauths(t *testing.T) {
	file := filepath.Join("nats", "auth.conf")
	if *update {
		if err := os.WriteFile(file, []byte(natsauth.Conf()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if string(repoFile(t, "deploy/nats/auth.conf")) != natsauth.Conf() {
		t.Fatal("deploy/nats/auth.conf differs from events/natsauth: go test ./deploy -run TestNATSAuthConfIsNatsauths -update")
	}
}

// Every node grants every user of natsauth exactly its permissions, and
// nobody else anything.
func TestNATSConfigsGrantExactlyNatsauthsPermissions(t *testing.T) {
	secrets, res := natsSecrets(t)
	for _, f := range natsConfigs(t) {
		checkNkeyUsers(t, f, loadNATSConf(t, f, secrets).Nkeys, res.Public)
	}
}

// checkNkeyUsers asserts users are natsauth's users, found by their public
// keys, each with exactly its permissions.
func checkNkeyUsers(t *testing.T, where string, users []*server.NkeyUser, public map[string]string) {
	t.Helper()
	byKey := map[string]string{}
	for u, k := range public {
		byKey[k] = u
	}
	seen := map[string]bool{}
	for _, nu := range users {
		name, ok := byKey[nu.Nkey]
		if !ok {
			t.Errorf("%s: user with nkey %s is none of natsauth's", where, nu.Nkey)
			continue
		}
		seen[name] = true
		want := natsauth.MustFor(name)
		p := nu.Permissions
		if p == nil || p.Publish == nil || p.Subscribe == nil || p.Response != nil ||
			!slices.Equal(p.Publish.Allow, want.Publish) || len(p.Publish.Deny) > 0 ||
			!slices.Equal(p.Subscribe.Allow, want.Subscribe) || len(p.Subscribe.Deny) > 0 {
			t.Errorf("%s: user %s has permissions %s, natsauth grants %+v", where, name, describe(p), want)
		}
	}
	for _, u := range natsauth.Users() {
		if !seen[u] {
			t.Errorf("%s: no user %s", where, u)
		}
	}
}

func describe(p *server.Permissions) string {
	if p == nil {
		return "none"
	}
	b, _ := json.Marshal(p)
	return string(b)
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
