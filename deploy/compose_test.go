package deploy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// docker-compose.yml is loaded by compose-go, the loader of `docker compose`
// itself: interpolation, merges, profiles, paths and the file's validity are
// what docker compose would make of it.

// composeFile is the path of docker-compose.yml from deploy/.
const composeFile = "../docker-compose.yml"

// optionalSecrets are the hub's secrets a deployment may leave empty: the
// GitHub App's key (the reconciler is off without it) and the OCR service's
// auth header.
var optionalSecrets = map[string]bool{"PULSEHUB_GITHUB_APP_PRIVATE_KEY": true, "PULSEHUB_DISPATCHER_SERVICES_OCR_AUTH": true}

// dotEnv is a .env with every variable of .env.example set to a value that
// works (the NATS public keys, the playground's password, a GitHub App id);
// the others empty, as .env.example leaves them.
func dotEnv(t *testing.T) map[string]string {
	t.Helper()
	keys := slices.Sorted(maps.Keys(envExample(t)))
	env := map[string]string{}
	for k, v := range fakeSecrets(t, keys) {
		env[k] = ""
		if strings.HasPrefix(k, "NATS_") || k == "ODOO_DB_PASSWORD" {
			env[k] = v
		}
	}
	env["PULSEHUB_GITHUB_APP_ID"] = "123456"
	return env
}

// tryLoadCompose loads docker-compose.yml as `docker compose` does from
// the repository root, with dotenv as its .env (and no other environment)
// and profiles active.
func tryLoadCompose(dotenv map[string]string, profiles ...string) (*types.Project, error) {
	var env []string
	for k, v := range dotenv {
		env = append(env, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{composeFile}, cli.WithWorkingDirectory(".."), cli.WithEnv(env), cli.WithProfiles(profiles))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

func loadCompose(t *testing.T, dotenv map[string]string, profiles ...string) *types.Project {
	t.Helper()
	p, err := tryLoadCompose(dotenv, profiles...)
	if err != nil {
		t.Fatalf("docker-compose.yml (profiles %v): %v", profiles, err)
	}
	return p
}

// composeService is a service of p, failing the test when there is none.
func composeService(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

// composeVariables are the ${...} of docker-compose.yml, as compose-go's
// template package reads them.
func composeVariables(t *testing.T) map[string]template.Variable {
	t.Helper()
	var dict map[string]any
	if err := yaml.Unmarshal(repoFile(t, "docker-compose.yml"), &dict); err != nil {
		t.Fatal(err)
	}
	return template.ExtractVariables(dict, template.DefaultPattern)
}

// repoPath is the absolute path of a file of the repository, as compose-go
// resolves a relative one.
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestComposeLoadsWithEveryProfile(t *testing.T) {
	base := []string{"dispatcher", "healthmon", "ingester", "nats-1", "nats-2", "nats-3", "nats-volumes", "odoowriter"}
	for _, tc := range []struct {
		profiles []string
		services []string
	}{
		{nil, base},
		{[]string{"odoo"}, slices.Sorted(slices.Values(append(slices.Clone(base), "odoo", "odoo-setup", "postgres")))},
		{[]string{"*"}, slices.Sorted(slices.Values(append(slices.Clone(base), "odoo", "odoo-setup", "postgres")))},
	} {
		p := loadCompose(t, dotEnv(t), tc.profiles...)
		if got := slices.Sorted(slices.Values(p.ServiceNames())); !slices.Equal(got, tc.services) {
			t.Errorf("profiles %v: services %v, want %v", tc.profiles, got, tc.services)
		}
		// Every file a service mounts is in the repository (or, for
		// secrets, is one the steps of deploy/README.md make).
		for _, s := range p.Services {
			for _, v := range s.Volumes {
				if v.Type != types.VolumeTypeBind {
					continue
				}
				if _, err := os.Stat(v.Source); err != nil && !strings.HasPrefix(v.Source, repoPath(t, "deploy/secrets")+"/") {
					t.Errorf("service %s mounts %s: %v", s.Name, v.Source, err)
				}
			}
			if s.Build != nil {
				if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
					t.Errorf("service %s builds %s: %v", s.Name, s.Build.Dockerfile, err)
				}
			}
		}
	}
}

// Every secret is a file under deploy/secrets (git-ignored): the NATS ones
// where natssecrets writes them, the hub's one file per variable under
// deploy/secrets/hub, named as the variable (the key of the Kubernetes
// Secret pulsehub-secrets too).
func TestComposeSecretsAreFilesUnderDeploySecrets(t *testing.T) {
	p := loadCompose(t, dotEnv(t), "*")
	dir, _ := natsSecrets(t)
	for name, s := range p.Secrets {
		if s.Environment != "" || s.Content != "" || s.External {
			t.Errorf("secret %s is not a file: docker compose copies such secrets into the container, which a read-only root refuses", name)
			continue
		}
		rel, err := filepath.Rel(repoPath(t, "deploy/secrets"), s.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("secret %s is %s, outside deploy/secrets", name, s.File)
			continue
		}
		switch {
		case strings.HasPrefix(rel, "hub/"):
			if filepath.Base(rel) != name || !strings.HasPrefix(name, "PULSEHUB_") {
				t.Errorf("secret %s is %s: a hub secret is deploy/secrets/hub/<its variable>", name, rel)
			}
		default:
			if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
				t.Errorf("secret %s is %s, which natssecrets does not make", name, rel)
			}
		}
	}
}

// docker compose refuses to start without a required variable and says
// which: the NATS users' public keys, and the playground's PostgreSQL
// password (which defaulted to empty, and PostgreSQL refused to start).
func TestComposeRefusesToStartWithoutItsRequiredVariables(t *testing.T) {
	vars := composeVariables(t)
	var required []string
	for name, v := range vars {
		if strings.Contains(name, "PASSWORD") && !v.Required {
			t.Errorf("${%s} has a default: a password must be given", name)
		}
		if v.Required {
			required = append(required, name)
		}
	}
	slices.Sort(required)
	want := []string{"NATS_DISPATCHER_NKEY", "NATS_HEALTHMON_NKEY", "NATS_INGESTER_NKEY", "NATS_ODOOWRITER_NKEY", "NATS_OPERATOR_NKEY", "ODOO_DB_PASSWORD"}
	if !slices.Equal(required, want) {
		t.Errorf("required variables %v, want %v", required, want)
	}
	for _, name := range required {
		env := dotEnv(t)
		env[name] = ""
		_, err := tryLoadCompose(env, "odoo")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v, want a refusal naming it", name, err)
		}
	}
	if _, err := tryLoadCompose(dotEnv(t), "odoo"); err != nil {
		t.Fatal(err)
	}
}

func TestComposeVariablesAreTheOnesEnvExampleLists(t *testing.T) {
	example := envExample(t)
	vars := composeVariables(t)
	for name := range vars {
		if _, ok := example[name]; !ok {
			t.Errorf("docker-compose.yml reads ${%s}, which .env.example does not list", name)
		}
	}
	for k := range example {
		if _, ok := vars[k]; !ok {
			t.Errorf(".env.example lists %s, which docker-compose.yml never reads", k)
		}
	}
	p := loadCompose(t, dotEnv(t), "*")
	for _, s := range p.Services {
		if len(s.EnvFiles) > 0 {
			t.Errorf("service %s: env_file hands it every variable; map the ones it reads in environment:", s.Name)
		}
		for k, v := range s.Environment {
			if v != nil && secretLike(k) {
				t.Errorf("service %s: %s is a secret in the environment (docker inspect shows it); hand it a secret file and %s_FILE", s.Name, k, k)
			}
		}
	}
}

// secretLike says whether a variable holds a hub secret or a NATS seed
// (the PostgreSQL and Odoo images of the playground take theirs as
// variables: ODOO_DB_PASSWORD's POSTGRES_PASSWORD and PASSWORD).
func secretLike(k string) bool {
	if strings.HasSuffix(k, "_FILE") || k == "POSTGRES_PASSWORD" || k == "PASSWORD" {
		return false
	}
	for _, s := range []string{"SECRET", "PASSWORD", "TOKEN", "_AUTH", "PRIVATE_KEY", "_SEED"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func TestDotEnvIsNotCommitted(t *testing.T) {
	for _, path := range []string{".env", "deploy/secrets/hub/PULSEHUB_GITHUB_WEBHOOK_SECRET"} {
		out, err := exec.Command("git", "-C", "..", "check-ignore", "--no-index", path).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != path {
			t.Fatalf("%s is not git-ignored: %s %v", path, out, err)
		}
		if out, err := exec.Command("git", "-C", "..", "ls-files", "--error-unmatch", path).CombinedOutput(); err == nil {
			t.Fatalf("%s is committed: %s", path, out)
		}
	}
}

// runtimeVars are read by the Go runtime, not the hub's config.
var runtimeVars = map[string]bool{"GOMEMLIMIT": true}

// composeEnv is what a service's process sees: its environment, each
// /run/secrets/<name> of a _FILE variable replaced by a file holding that
// secret's content (content(name)), as the container would read it.
func composeEnv(t *testing.T, s types.ServiceConfig, content func(string) string) map[string]string {
	t.Helper()
	given := map[string]bool{}
	for _, sec := range s.Secrets {
		given[sec.Source] = true
		if sec.Target != "" && sec.Target != "/run/secrets/"+sec.Source {
			t.Errorf("service %s: secret %s at %s; the _FILE variables name /run/secrets/<secret>", s.Name, sec.Source, sec.Target)
		}
	}
	env := map[string]string{}
	dir := t.TempDir()
	used := map[string]bool{}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("service %s: %s without a value", s.Name, k)
			continue
		}
		name, ok := strings.CutPrefix(*v, "/run/secrets/")
		if !ok || !strings.HasSuffix(k, "_FILE") {
			env[k] = *v
			continue
		}
		if !given[name] {
			t.Errorf("service %s: %s=%s, a secret it is not given", s.Name, k, *v)
		}
		used[name] = true
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(content(name)), 0o600); err != nil {
			t.Fatal(err)
		}
		env[k] = f
	}
	for name := range given {
		if !used[name] {
			t.Errorf("service %s is given secret %s, which no _FILE variable reads", s.Name, name)
		}
	}
	return env
}

// Every variable a container is given is one its service reads (hubconfig's
// variables, the map keys of the mounted hub.yaml included, of the sections
// `hub run --only <service>` reads), each secret a file read through its
// _FILE variable, and the hub.yaml with that environment passes the
// validation of that service alone (ValidateFor): with every secret set,
// and with the optional ones empty.
func TestComposeServicesReadEveryVariableTheyAreGiven(t *testing.T) {
	hubYAML := repoFile(t, "deploy/compose/hub.yaml")
	names := slices.Sorted(maps.Keys(loadCompose(t, dotEnv(t), "*").Secrets))
	fakes := fakeSecrets(t, names)
	for _, variant := range []struct {
		name     string
		optional bool
	}{{"every secret", true}, {"only the required secrets", false}} {
		t.Run(variant.name, func(t *testing.T) {
			env := dotEnv(t)
			if !variant.optional {
				env["PULSEHUB_GITHUB_APP_ID"] = ""
			}
			p := loadCompose(t, env, "odoo")
			content := func(name string) string {
				if optionalSecrets[name] && !variant.optional {
					return ""
				}
				return fakes[name]
			}
			for _, hs := range hubServices {
				s := composeService(t, p, hs.name)
				checkContainerEnv(t, hs.name, composeEnv(t, s, content), func(env map[string]string) (loaded, error) { return loadFor(hs, hubYAML, env) })
			}
			checkContainerEnv(t, "odoo-setup", composeEnv(t, composeService(t, p, "odoo-setup"), content),
				func(env map[string]string) (loaded, error) { return loadPlayground(hubYAML, env) })
		})
	}
}

func checkContainerEnv(t *testing.T, name string, env map[string]string, load func(map[string]string) (loaded, error)) {
	t.Helper()
	l, err := load(env)
	if err != nil {
		t.Errorf("service %s: deploy/compose/hub.yaml with its environment does not validate:\n%v", name, err)
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !l.vars[k] && !runtimeVars[k] {
			t.Errorf("service %s is given %s, which `hub run --only %s` never reads", name, k, name)
		}
	}
}

// Images are named for the registry of REGISTRY (default a local name that
// is never pulled from anyone's registry) at VERSION, built from their
// Dockerfile target with the version and commit stamped in.
func TestComposeRunsEveryServiceFromItsDockerfileTarget(t *testing.T) {
	targets := dockerfileTargets(t)
	env := dotEnv(t)
	p := loadCompose(t, env, "odoo")
	env["REGISTRY"], env["VERSION"], env["COMMIT"] = "registry.example.com/team", "1.2.3", "abc123"
	named := loadCompose(t, env, "odoo")
	for _, hs := range hubServices {
		if s := composeService(t, p, hs.name); s.Build == nil || s.Build.Target != hs.name {
			t.Errorf("service %s: build %+v, want target %s", hs.name, s.Build, hs.name)
		}
	}
	for _, s := range p.Services {
		if s.Build == nil {
			continue
		}
		if s.Build.Context != repoPath(t, ".") || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("service %s: build context %s, dockerfile %s; want the repository and deploy/Dockerfile", s.Name, s.Build.Context, s.Build.Dockerfile)
		}
		if !targets[s.Build.Target] {
			t.Errorf("service %s: target %q is not a stage of deploy/Dockerfile (%v)", s.Name, s.Build.Target, slices.Sorted(maps.Keys(targets)))
		}
		image := s.Build.Target
		if want := "localhost/pulsehub/" + image + ":dev"; s.Image != want {
			t.Errorf("service %s: image %q by default, want %q", s.Name, s.Image, want)
		}
		ns := composeService(t, named, s.Name)
		if want := "registry.example.com/team/" + image + ":1.2.3"; ns.Image != want {
			t.Errorf("service %s: image %q with REGISTRY and VERSION set, want %q", s.Name, ns.Image, want)
		}
		if v, c := ns.Build.Args["VERSION"], ns.Build.Args["COMMIT"]; v == nil || *v != "1.2.3" || c == nil || *c != "abc123" {
			t.Errorf("service %s: build args %v, want VERSION and COMMIT", s.Name, ns.Build.Args)
		}
	}
}

// The four services: `hub run --only <service>`, the mounted hub.yaml
// read-only at the path of --config (and NATS's CA, nothing else),
// restarted, started after the NATS nodes are healthy, on a read-only root
// with no capabilities, a memory limit and the Go runtime's limit at ~90 %
// of it, streams with 3 replicas.
func TestComposeRunsTheServicesAlike(t *testing.T) {
	p := loadCompose(t, dotEnv(t))
	nodes := natsNodes(t, p)
	for _, hs := range hubServices {
		s := composeService(t, p, hs.name)
		if !slices.Equal(s.Command, runArgs(hs.name)) {
			t.Errorf("service %s: command %q, want %q", hs.name, s.Command, runArgs(hs.name))
		}
		want := []types.ServiceVolumeConfig{
			{Source: repoPath(t, "deploy/compose/hub.yaml"), Target: "/etc/pulsehub/hub.yaml"},
			{Source: repoPath(t, "deploy/secrets/tls/ca.pem"), Target: "/etc/pulsehub/nats-ca.pem"},
		}
		ok := len(s.Volumes) == len(want)
		for i := 0; ok && i < len(want); i++ {
			v := s.Volumes[i]
			ok = v.Type == types.VolumeTypeBind && v.ReadOnly && v.Source == want[i].Source && v.Target == want[i].Target
		}
		if !ok {
			t.Errorf("service %s: volumes %+v, want deploy/compose/hub.yaml read-only at /etc/pulsehub/hub.yaml and NATS's CA", hs.name, s.Volumes)
		}
		if s.Restart != "unless-stopped" || !s.ReadOnly || strings.Join(s.CapDrop, ",") != "ALL" || len(s.Profiles) > 0 ||
			!slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("service %s: restart %q read_only %v cap_drop %v profiles %v security_opt %v", hs.name, s.Restart, s.ReadOnly, s.CapDrop, s.Profiles, s.SecurityOpt)
		}
		for _, n := range nodes {
			if s.DependsOn[n].Condition != types.ServiceConditionHealthy {
				t.Errorf("service %s does not wait for %s to be healthy", hs.name, n)
			}
		}
		if v := s.Environment["PULSEHUB_STREAMS_REPLICAS"]; v == nil || *v != "3" {
			t.Errorf("service %s: PULSEHUB_STREAMS_REPLICAS = %v, want 3", hs.name, v)
		}
		checkGoMemLimit(t, "service "+hs.name, envValue(s, "GOMEMLIMIT"), int64(s.MemLimit))
	}
}

func envValue(s types.ServiceConfig, k string) string {
	if v := s.Environment[k]; v != nil {
		return *v
	}
	return ""
}

// checkGoMemLimit asserts a container's GOMEMLIMIT is 85–95 % of its
// memory limit: the Go runtime collects harder before the kernel kills.
func checkGoMemLimit(t *testing.T, where, gomemlimit string, limit int64) {
	t.Helper()
	n, ok := strings.CutSuffix(gomemlimit, "MiB")
	v, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || limit <= 0 {
		t.Errorf("%s: GOMEMLIMIT %q with memory limit %d, want <n>MiB under a limit", where, gomemlimit, limit)
		return
	}
	if r := float64(v<<20) / float64(limit); r < 0.85 || r > 0.95 {
		t.Errorf("%s: GOMEMLIMIT %s is %.0f %% of the memory limit (%d MiB), want ~90 %%", where, gomemlimit, 100*r, limit>>20)
	}
}

// Ports: each service listens on every interface of its container at the
// port its config says; whatever is published is published on loopback,
// the ingester too unless INGESTER_PUBLISH opens it; health checks ask
// /health there.
func TestComposePortsAndHealthChecks(t *testing.T) {
	hubYAML := repoFile(t, "deploy/compose/hub.yaml")
	env := dotEnv(t)
	p := loadCompose(t, env, "odoo")
	env["INGESTER_PUBLISH"] = "0.0.0.0:8443"
	opened := loadCompose(t, env, "odoo")
	fakes := fakeSecrets(t, slices.Sorted(maps.Keys(p.Secrets)))
	for _, hs := range hubServices {
		s := composeService(t, p, hs.name)
		l, err := loadFor(hs, hubYAML, composeEnv(t, s, func(name string) string { return fakes[name] }))
		if err != nil {
			t.Fatalf("service %s: %v", hs.name, err)
		}
		listen := hs.http(l.cfg).Listen
		port := listenPort(t, listen)
		if !strings.HasPrefix(listen, "0.0.0.0:") {
			t.Errorf("service %s listens on %s: unreachable from outside its container", hs.name, listen)
		}
		for _, pc := range s.Ports {
			if int(pc.Target) != port {
				t.Errorf("service %s publishes container port %d, it listens on %d", hs.name, pc.Target, port)
			}
		}
		want := []string{"CMD", "/hub", "healthcheck", fmt.Sprintf("http://127.0.0.1:%d/health", port)}
		if s.HealthCheck == nil || !slices.Equal(s.HealthCheck.Test, want) {
			t.Errorf("service %s: healthcheck %v, want %v", hs.name, s.HealthCheck, want)
		}
	}
	for _, s := range p.Services {
		for _, pc := range s.Ports {
			if pc.HostIP != "127.0.0.1" {
				t.Errorf("service %s publishes %s:%s beyond loopback", s.Name, pc.HostIP, pc.Published)
			}
		}
	}
	if ports := composeService(t, p, "ingester").Ports; len(ports) != 1 || ports[0].Published != "8080" {
		t.Errorf("the ingester publishes %+v, want its port on 127.0.0.1:8080", ports)
	}
	if ports := composeService(t, opened, "ingester").Ports; len(ports) != 1 || ports[0].HostIP != "0.0.0.0" || ports[0].Published != "8443" || ports[0].Target != 8080 {
		t.Errorf("with INGESTER_PUBLISH=0.0.0.0:8443 the ingester publishes %+v", ports)
	}
}

// A service's environment may name another service's listen address: the
// health monitor probes the others there. It must be that service's compose
// name and port.
func TestComposeServiceAddressesNameTheServices(t *testing.T) {
	p := loadCompose(t, dotEnv(t))
	for _, hs := range hubServices {
		for k, v := range composeService(t, p, hs.name).Environment {
			other, ok := listenVarOf(k)
			if !ok || other.name == hs.name || v == nil {
				continue
			}
			own := envValue(composeService(t, p, other.name), k)
			if *v != fmt.Sprintf("%s:%d", other.name, listenPort(t, own)) {
				t.Errorf("service %s: %s=%s, but %s listens on %s", hs.name, k, *v, other.name, own)
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
