package deploy

import (
	"fmt"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml the checks read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       *composeBuild     `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	EnvFile     any               `yaml:"env_file"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Restart  string   `yaml:"restart"`
	Profiles []string `yaml:"profiles"`
	ReadOnly bool     `yaml:"read_only"`
	CapDrop  []string `yaml:"cap_drop"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
	Target     string `yaml:"target"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal(repoFile(t, "docker-compose.yml"), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// interpolation is compose's ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?error} and ${VAR?error}.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate resolves s as compose does with env as the .env file; an
// unset required variable is an error.
func interpolate(s string, env map[string]string) (string, error) {
	var err error
	out := interpolation.ReplaceAllStringFunc(s, func(m string) string {
		g := interpolation.FindStringSubmatch(m)
		v, set := env[g[1]]
		empty := !set || (strings.HasPrefix(g[2], ":") && v == "")
		switch strings.TrimPrefix(g[2], ":") {
		case "-":
			if empty {
				return g[3]
			}
		case "?":
			if empty {
				err = fmt.Errorf("%s: %s", g[1], g[3])
			}
		}
		return v
	})
	if err == nil && strings.Contains(out, "$") {
		err = fmt.Errorf("%q: a $ compose would read as a variable", s)
	}
	return out, err
}

// containerEnv is a compose service's environment with .env applied.
func containerEnv(t *testing.T, name string, s composeService, dotenv map[string]string) (map[string]string, error) {
	t.Helper()
	env := map[string]string{}
	for k, v := range s.Environment {
		r, err := interpolate(v, dotenv)
		if err != nil {
			return nil, fmt.Errorf("service %s, %s: %w", name, k, err)
		}
		env[k] = r
	}
	return env, nil
}

// requiredVars are the variables docker-compose.yml cannot start without.
func requiredVars(t *testing.T) map[string]bool {
	t.Helper()
	req := map[string]bool{}
	for _, m := range interpolation.FindAllStringSubmatch(string(repoFile(t, "docker-compose.yml")), -1) {
		if strings.HasSuffix(m[2], "?") {
			req[m[1]] = true
		}
	}
	return req
}

func TestComposeVariablesAreTheOnesEnvExampleLists(t *testing.T) {
	example := envExample(t)
	used := map[string]bool{}
	for _, m := range interpolation.FindAllStringSubmatch(string(repoFile(t, "docker-compose.yml")), -1) {
		used[m[1]] = true
		if _, ok := example[m[1]]; !ok {
			t.Errorf("docker-compose.yml reads ${%s}, which .env.example does not list", m[1])
		}
	}
	for k := range example {
		if !used[k] {
			t.Errorf(".env.example lists %s, which docker-compose.yml never reads", k)
		}
	}
	for name, s := range loadCompose(t).Services {
		if s.EnvFile != nil {
			t.Errorf("service %s: env_file hands it every secret; map the ones it reads in environment:", name)
		}
	}
}

func TestDotEnvIsNotCommitted(t *testing.T) {
	out, err := exec.Command("git", "-C", "..", "check-ignore", "--no-index", ".env").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != ".env" {
		t.Fatalf(".env is not git-ignored: %s %v", out, err)
	}
	if out, err := exec.Command("git", "-C", "..", "ls-files", "--error-unmatch", ".env").CombinedOutput(); err == nil {
		t.Fatalf(".env is committed: %s", out)
	}
}

// Every variable a container is given is one its service reads (hubconfig's
// variables, the map keys of the mounted hub.yaml included, of the sections
// `hub run --only <service>` reads), and the hub.yaml with that environment
// passes the validation of that service alone (ValidateFor): with every
// secret of .env.example set, and with only the required ones.
func TestComposeServicesReadEveryVariableTheyAreGiven(t *testing.T) {
	c := loadCompose(t)
	hubYAML := repoFile(t, "deploy/compose/hub.yaml")
	all := fakeSecrets(t, slices.Sorted(maps.Keys(envExample(t))))
	required := map[string]string{}
	for k := range requiredVars(t) {
		required[k] = all[k]
	}
	for _, dotenv := range []struct {
		name string
		env  map[string]string
	}{{"every secret", all}, {"only the required secrets", required}} {
		t.Run(dotenv.name, func(t *testing.T) {
			for _, hs := range hubServices {
				s, ok := c.Services[hs.name]
				if !ok {
					t.Fatalf("docker-compose.yml has no service %s", hs.name)
				}
				checkContainerEnv(t, hs.name, s, dotenv.env, func(env map[string]string) (loaded, error) { return loadFor(hs, hubYAML, env) })
			}
			s, ok := c.Services["odoo-setup"]
			if !ok {
				t.Fatal("docker-compose.yml has no service odoo-setup (the playground's automation rule)")
			}
			checkContainerEnv(t, "odoo-setup", s, dotenv.env, func(env map[string]string) (loaded, error) { return loadPlayground(hubYAML, env) })
		})
	}
}

func checkContainerEnv(t *testing.T, name string, s composeService, dotenv map[string]string, load func(map[string]string) (loaded, error)) {
	t.Helper()
	env, err := containerEnv(t, name, s, dotenv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := load(env)
	if err != nil {
		t.Errorf("service %s: deploy/compose/hub.yaml with its environment does not validate:\n%v", name, err)
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !l.vars[k] {
			t.Errorf("service %s is given %s, which `hub run --only %s` never reads", name, k, name)
		}
	}
}

func TestComposeRunsEveryServiceFromItsDockerfileTarget(t *testing.T) {
	c := loadCompose(t)
	targets := dockerfileTargets(t)
	for _, hs := range hubServices {
		s := c.Services[hs.name]
		if s.Build == nil || s.Build.Target != hs.name {
			t.Errorf("service %s: build %+v, want target %s", hs.name, s.Build, hs.name)
		}
	}
	for name, s := range c.Services {
		if s.Build == nil {
			continue
		}
		if s.Build.Context != "." || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("service %s: build %+v, want context . and deploy/Dockerfile", name, s.Build)
		}
		if !targets[s.Build.Target] {
			t.Errorf("service %s: target %q is not a stage of deploy/Dockerfile (%v)", name, s.Build.Target, slices.Sorted(maps.Keys(targets)))
		}
	}
}

// The four services: `hub run --only <service>`, the mounted hub.yaml
// read-only at the path of --config (and NATS's CA, nothing else),
// restarted, started after the NATS nodes are healthy, on a read-only root
// with no capabilities, streams with 3 replicas.
func TestComposeRunsTheServicesAlike(t *testing.T) {
	c := loadCompose(t)
	nodes := natsNodes(t, c)
	for _, hs := range hubServices {
		s := c.Services[hs.name]
		if !slices.Equal(s.Command, runArgs(hs.name)) {
			t.Errorf("service %s: command %q, want %q", hs.name, s.Command, runArgs(hs.name))
		}
		if len(s.Volumes) != 2 || s.Volumes[0] != "./deploy/compose/hub.yaml:/etc/pulsehub/hub.yaml:ro" ||
			s.Volumes[1] != "./deploy/secrets/tls/ca.pem:/etc/pulsehub/nats-ca.pem:ro" {
			t.Errorf("service %s: volumes %v, want deploy/compose/hub.yaml read-only at /etc/pulsehub/hub.yaml and NATS's CA", hs.name, s.Volumes)
		}
		if s.Restart != "unless-stopped" || !s.ReadOnly || strings.Join(s.CapDrop, ",") != "ALL" || len(s.Profiles) > 0 {
			t.Errorf("service %s: restart %q read_only %v cap_drop %v profiles %v", hs.name, s.Restart, s.ReadOnly, s.CapDrop, s.Profiles)
		}
		for _, n := range nodes {
			if s.DependsOn[n].Condition != "service_healthy" {
				t.Errorf("service %s does not wait for %s to be healthy", hs.name, n)
			}
		}
		if s.Environment["PULSEHUB_STREAMS_REPLICAS"] != "3" {
			t.Errorf("service %s: PULSEHUB_STREAMS_REPLICAS = %q, want 3", hs.name, s.Environment["PULSEHUB_STREAMS_REPLICAS"])
		}
	}
}

// Ports: each service listens on every interface of its container at the
// port its config says, publishes that port (only the ingester beyond
// loopback), and its health check asks /health there.
func TestComposePortsAndHealthChecks(t *testing.T) {
	c := loadCompose(t)
	hubYAML := repoFile(t, "deploy/compose/hub.yaml")
	dotenv := fakeSecrets(t, slices.Sorted(maps.Keys(envExample(t))))
	for _, hs := range hubServices {
		s := c.Services[hs.name]
		env, err := containerEnv(t, hs.name, s, dotenv)
		if err != nil {
			t.Fatal(err)
		}
		l, err := loadFor(hs, hubYAML, env)
		if err != nil {
			t.Fatalf("service %s: %v", hs.name, err)
		}
		listen := hs.http(l.cfg).Listen
		port := listenPort(t, listen)
		if !strings.HasPrefix(listen, "0.0.0.0:") {
			t.Errorf("service %s listens on %s: unreachable from outside its container", hs.name, listen)
		}
		for _, p := range s.Ports {
			hostIP, container := splitPublished(t, p)
			if container != port {
				t.Errorf("service %s publishes container port %d, it listens on %d", hs.name, container, port)
			}
			if hostIP != "127.0.0.1" && hs.name != "ingester" {
				t.Errorf("service %s publishes %q beyond loopback", hs.name, p)
			}
		}
		want := []string{"CMD", "/hub", "healthcheck", fmt.Sprintf("http://127.0.0.1:%d/health", port)}
		if s.Healthcheck == nil || strings.Join(s.Healthcheck.Test, " ") != strings.Join(want, " ") {
			t.Errorf("service %s: healthcheck %v, want %v", hs.name, s.Healthcheck, want)
		}
	}
	if ports := c.Services["ingester"].Ports; len(ports) != 1 {
		t.Errorf("the ingester publishes %v, want its one port", ports)
	}
	for name, s := range c.Services {
		if _, hub := serviceNamed(name); hub {
			continue
		}
		for _, p := range s.Ports {
			if hostIP, _ := splitPublished(t, p); hostIP != "127.0.0.1" {
				t.Errorf("service %s publishes %q beyond loopback", name, p)
			}
		}
	}
}

// splitPublished reads "[ip:]host:container" (no ranges, no protocol).
func splitPublished(t *testing.T, p string) (hostIP string, container int) {
	t.Helper()
	parts := strings.Split(p, ":")
	switch len(parts) {
	case 2:
		return "", listenPort(t, "x:"+parts[1])
	case 3:
		return parts[0], listenPort(t, "x:"+parts[2])
	}
	t.Fatalf("port %q: want [ip:]host:container", p)
	return "", 0
}

// A service's environment may name another service's listen address: the
// health monitor probes the others there. It must be that service's compose
// name and port.
func TestComposeServiceAddressesNameTheServices(t *testing.T) {
	c := loadCompose(t)
	for _, hs := range hubServices {
		for k, v := range c.Services[hs.name].Environment {
			other, ok := listenVarOf(k)
			if !ok || other.name == hs.name {
				continue
			}
			own := c.Services[other.name].Environment[k]
			if v != fmt.Sprintf("%s:%d", other.name, listenPort(t, own)) {
				t.Errorf("service %s: %s=%s, but %s listens on %s", hs.name, k, v, other.name, own)
			}
		}
	}
}

// listenVarOf is the service whose PULSEHUB_<NAME>_HTTP_LISTEN k is.
func listenVarOf(k string) (hubService, bool) {
	name, ok := strings.CutSuffix(strings.TrimPrefix(k, "PULSEHUB_"), "_HTTP_LISTEN")
	if !ok {
		return hubService{}, false
	}
	return serviceNamed(strings.ToLower(name))
}

func TestInterpolateAsCompose(t *testing.T) {
	env := map[string]string{"SET": "v", "EMPTY": ""}
	for _, tc := range []struct{ in, want, err string }{
		{"${SET}", "v", ""},
		{"${UNSET}", "", ""},
		{"${EMPTY:-d}", "d", ""},
		{"${EMPTY-d}", "", ""},
		{"${UNSET-d}", "d", ""},
		{"a ${SET:?need it} b", "a v b", ""},
		{"${EMPTY:?need it}", "", "EMPTY: need it"},
		{"${UNSET?need it}", "", "UNSET: need it"},
		{"${EMPTY?need it}", "", ""},
		{"$SET", "", "a $ compose would read"},
	} {
		got, err := interpolate(tc.in, env)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) || (err == nil && got != tc.want) {
			t.Errorf("%q: %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}
