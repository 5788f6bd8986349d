package deploy

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/insightpulse/pulsehub/deploy/playground"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
)

// hubService is one of the hub's four services as the deployment files
// run it: the same name is its compose service, its Dockerfile target and
// its binary; its standalone File says what it reads.
type hubService struct {
	name string
	file func() config.Validator      // the standalone File with its defaults
	http func(any) service.HTTPConfig // its own listener in a loaded File
}

var hubServices = []hubService{
	{"ingester", func() config.Validator { return ingester.DefaultFile() },
		func(f any) service.HTTPConfig { return f.(*ingester.File).Ingester.HTTP }},
	{"odoowriter", func() config.Validator { return writer.DefaultFile() },
		func(f any) service.HTTPConfig { return f.(*writer.File).Writer.HTTP }},
	{"dispatcher", func() config.Validator { return dispatch.DefaultFile() },
		func(f any) service.HTTPConfig { return f.(*dispatch.File).Dispatcher.HTTP }},
	{"healthmon", func() config.Validator { return monitor.DefaultFile() },
		func(f any) service.HTTPConfig { return f.(*monitor.File).Monitor.HTTP }},
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

// loaded is a service's standalone File loaded from a hub.yaml with an
// environment: what the binary would run with.
type loaded struct {
	file any
	vars map[string]bool // every variable it reads, the file's map keys included
}

// loadFor loads hub.yaml for the service the way its main does (the file
// holds the other services' sections too, so not strictly: hubYAMLIsValid
// checks every key against the whole hub's config), with env as the whole
// environment, and validates it.
func loadFor(s hubService, hubYAML []byte, env map[string]string) (loaded, error) {
	f := s.file()
	err := config.LoadBytes(hubYAML, f, config.Options{LookupEnv: lookup(env)})
	return loaded{file: f, vars: envVars(f)}, err
}

// loadPlayground loads hub.yaml as the compose playground's set-up reads it.
func loadPlayground(hubYAML []byte, env map[string]string) (loaded, error) {
	f := &playground.File{}
	err := config.LoadBytes(hubYAML, f, config.Options{LookupEnv: lookup(env)})
	return loaded{file: f, vars: envVars(f)}, err
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
// key for a private key, a number for an id, a long random-looking string
// otherwise.
func fakeSecrets(t *testing.T, keys []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range keys {
		switch {
		case strings.HasSuffix(k, "_PRIVATE_KEY"):
			out[k] = testKey(t)
		case strings.HasSuffix(k, "_ID"):
			out[k] = "123456"
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
