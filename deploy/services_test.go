package deploy

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/insightpulse/pulsehub/deploy/playground"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/nats-io/nkeys"
)

// hubService is one of the hub's four services as the deployment files
// run it: `hub run --only <name>`; the same name is its compose service,
// its Dockerfile target and its Deployment's suffix.
type hubService struct {
	name string
	http func(*hubconfig.Config) service.HTTPConfig // its own listener
}

var hubServices = []hubService{
	{hubconfig.Ingester, func(c *hubconfig.Config) service.HTTPConfig { return c.Ingester.HTTP }},
	{hubconfig.OdooWriter, func(c *hubconfig.Config) service.HTTPConfig { return c.Writer.HTTP }},
	{hubconfig.Dispatcher, func(c *hubconfig.Config) service.HTTPConfig { return c.Dispatcher.HTTP }},
	{hubconfig.Healthmon, func(c *hubconfig.Config) service.HTTPConfig { return c.Healthmon.HTTP }},
}

// The checks cover every service `hub run --only` knows.
func TestHubServicesAreTheHubs(t *testing.T) {
	var names []string
	for _, hs := range hubServices {
		names = append(names, hs.name)
	}
	if !slices.Equal(names, hubconfig.Services()) {
		t.Fatalf("the deploy checks know %v, the hub runs %v", names, hubconfig.Services())
	}
}

// runArgs is a service container's command line after the image's
// entrypoint, hub: the mounted hub.yaml, NATS from PULSEHUB_NATS_URL.
func runArgs(name string) []string {
	return []string{"run", "--only", name, "--config", "/etc/pulsehub/hub.yaml"}
}

// serviceNamed is the hub service of that name, or false.
func serviceNamed(name string) (hubService, bool) {
	for _, s := range hubServices {
		if s.name == name {
			return s, true
		}
	}
	return hubService{}, false
}

// loaded is hub.yaml loaded with a container's environment: what it runs
// with.
type loaded struct {
	cfg  *hubconfig.Config // nil for the playground
	vars map[string]bool   // every variable it reads, the file's map keys included
}

// loadFor loads hub.yaml strictly with env as the whole environment, as
// `hub run --only <s>` does, and validates it for that service alone
// (hubconfig's ValidateFor): the container is given only its own secrets.
// vars are the variables of the sections it reads (hubconfig's Reads).
func loadFor(s hubService, hubYAML []byte, env map[string]string) (loaded, error) {
	w := struct {
		C hubconfig.Config `yaml:",inline"` // a field, not embedded: Config's whole-hub Validate is not promoted
	}{hubconfig.Default()}
	if err := config.LoadBytes(hubYAML, &w, config.Options{Strict: true, LookupEnv: lookup(env)}); err != nil {
		return loaded{}, err
	}
	only := []string{s.name}
	vars := map[string]bool{}
	for _, v := range config.EnvVars(&w.C) {
		if w.C.Reads(only, v.Path) {
			vars[v.Name] = true
		}
	}
	return loaded{cfg: &w.C, vars: vars}, w.C.ValidateFor(only).Err()
}

// loadPlayground loads hub.yaml as the compose playground's set-up reads it.
func loadPlayground(hubYAML []byte, env map[string]string) (loaded, error) {
	f := &playground.File{}
	err := config.LoadBytes(hubYAML, f, config.Options{LookupEnv: lookup(env)})
	return loaded{vars: envVars(f)}, err
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func envVars(f any) map[string]bool {
	vars := map[string]bool{}
	for _, v := range config.EnvVars(f) {
		vars[v.Name] = true
	}
	return vars
}

// listenPort is the port of a host:port listen address.
func listenPort(t *testing.T, listen string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("listen %q: %v", listen, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("listen %q: %v", listen, err)
	}
	return n
}

// repoFile reads a file of the repository (the tests run in deploy/).
func repoFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envExample is .env.example: every secret variable a deployment sets.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for i, line := range strings.Split(string(repoFile(t, ".env.example")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf(".env.example:%d: not KEY=VALUE: %q", i+1, line)
		}
		vars[k] = v
	}
	return vars
}

// fakeSecrets gives every key a value that passes validation: a real RSA
// key for a private key, a number for an id, an nkey seed or public key for
// the NATS users' variables, a long random-looking string otherwise.
func fakeSecrets(t *testing.T, keys []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range keys {
		switch {
		case strings.HasSuffix(k, "_PRIVATE_KEY"):
			out[k] = testKey(t)
		case strings.HasSuffix(k, "_ID"):
			out[k] = "123456"
		case strings.HasPrefix(k, "NATS_") && (strings.HasSuffix(k, "_SEED") || strings.HasSuffix(k, "_NKEY")):
			kp, err := nkeys.CreateUser()
			if err != nil {
				t.Fatal(err)
			}
			seed, _ := kp.Seed()
			pub, _ := kp.PublicKey()
			out[k] = pub
			if strings.HasSuffix(k, "_SEED") {
				out[k] = string(seed)
			}
		default:
			out[k] = "fake-" + strings.ToLower(k) + "-0123456789abcdef"
		}
	}
	return out
}

var (
	keyOnce sync.Once
	keyPEM  string
	keyErr  error
)

func testKey(t *testing.T) string {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			keyErr = err
			return
		}
		keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return keyPEM
}
