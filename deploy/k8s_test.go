package deploy

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/natsauth"
)

func TestKustomizationListsOnlyFilesThatExist(t *testing.T) {
	k := loadK8s(t)
	listed := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.kust.Resources {
		listed[r] = true
	}
	for _, g := range k.kust.ConfigMapGenerator {
		for _, f := range g.Files {
			if _, err := os.Stat(filepath.Join("k8s", f)); err != nil {
				t.Errorf("configMapGenerator %s: %v", g.Name, err)
			}
			listed[f] = true
		}
	}
	files, _ := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); !listed[base] && base != "nats-values.yaml" {
			t.Errorf("deploy/k8s/%s is in no resources: kubectl apply -k would skip it", base)
		}
	}
	if listed["nats-values.yaml"] {
		t.Error("nats-values.yaml is Helm values, not a manifest")
	}
	if k.kust.Namespace != "pulsehub" {
		t.Errorf("namespace %q", k.kust.Namespace)
	}
	for _, o := range k.objects {
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Errorf("%s: an object without apiVersion, kind or name: %+v", o.file, o)
		}
	}
}

// Replicas: every service but healthmon is safe to run as several replicas
// sharing its durable consumers; healthmon runs one (see healthmon.yaml).
var k8sReplicas = map[string]func(int) bool{
	"ingester":   func(n int) bool { return n >= 2 },
	"odoowriter": func(n int) bool { return n == 2 },
	"dispatcher": func(n int) bool { return n == 2 },
	"healthmon":  func(n int) bool { return n == 1 },
}

func TestK8sDeploymentsRunEachServiceHardened(t *testing.T) {
	k := loadK8s(t)
	images := map[string]bool{}
	for _, i := range k.kust.Images {
		images[i.Name] = true
	}
	for _, hs := range hubServices {
		d, c := k.deployment(t, hs)
		where := "Deployment pulsehub-" + hs.name
		if !k8sReplicas[hs.name](d.Replicas) {
			t.Errorf("%s: %d replicas", where, d.Replicas)
		}
		if hs.name == "healthmon" && d.Strategy.Type != "Recreate" {
			t.Errorf("%s: strategy %q: a rollout must never run two monitors", where, d.Strategy.Type)
		}
		for k, v := range d.Selector.MatchLabels {
			if d.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: the selector %v does not match the pod labels %v", where, d.Selector.MatchLabels, d.Template.Metadata.Labels)
			}
		}
		if c.Image != "pulsehub/"+hs.name || !images[c.Image] {
			t.Errorf("%s: image %q, want pulsehub/%s with an images: entry in kustomization.yaml", where, c.Image, hs.name)
		}
		checkRunAndConfig(t, k, hs, where, d.Template.Spec, c)
		sc := c.SecurityContext
		if rn := d.Template.Spec.SecurityContext.RunAsNonRoot; rn == nil || !*rn ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
			t.Errorf("%s: want non-root, no privilege escalation, read-only root, capabilities dropped; got %+v", where, sc)
		}
		for _, r := range []string{"cpu", "memory"} {
			if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
				t.Errorf("%s: %s request %q limit %q", where, r, c.Resources.Requests[r], c.Resources.Limits[r])
			}
		}
		if len(c.EnvFrom) > 0 {
			t.Errorf("%s: envFrom hands the container keys no check can see; list each variable", where)
		}
	}
}

// checkRunAndConfig: the container runs `hub run --only <service>` with
// --config naming the mounted hub.yaml of the generated ConfigMap,
// read-only.
func checkRunAndConfig(t *testing.T, k k8s, hs hubService, where string, pod podSpec, c container) {
	t.Helper()
	if want := runArgs(hs.name); len(c.Command) > 0 || !slices.Equal(c.Args, want) {
		t.Errorf("%s: command %q args %q, want the image's entrypoint (hub) with args %q", where, c.Command, c.Args, want)
	}
	gen := map[string]bool{}
	for _, g := range k.kust.ConfigMapGenerator {
		if slices.Contains(g.Files, "hub.yaml") {
			gen[g.Name] = true
		}
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/etc/pulsehub" {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && gen[v.ConfigMap.Name] && m.ReadOnly {
				return
			}
		}
	}
	t.Errorf("%s: hub.yaml of the generated ConfigMap is not mounted read-only at /etc/pulsehub", where)
}

// k8sEnv is the environment of service svc's container with the Secret's
// keys faked; the optional ones only when withOptional. Each variable comes
// from the key of its name, except the NATS seed, which comes from the
// service's own key (NATS_<SERVICE>_SEED): no service gets another's.
func k8sEnv(t *testing.T, svc, where string, c container, withOptional bool) map[string]string {
	t.Helper()
	example := envExample(t)
	secrets := fakeSecrets(t, slices.Sorted(maps.Keys(example)))
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			want := e.Name
			if e.Name == "PULSEHUB_NATS_NKEY_SEED" {
				want = natsauth.SeedVar(svc)
			}
			if ref.Name != "pulsehub-secrets" || ref.Key != want || (strings.HasSuffix(ref.Key, "_SEED") && ref.Key != natsauth.SeedVar(svc)) {
				t.Errorf("%s: %s from secret %s key %s, want key %s of pulsehub-secrets", where, e.Name, ref.Name, ref.Key, want)
			}
			if _, ok := example[ref.Key]; !ok {
				t.Errorf("%s: secret key %s is not in .env.example, which lists every secret", where, ref.Key)
			}
			if withOptional || !ref.Optional {
				env[e.Name] = secrets[ref.Key]
			}
		default:
			t.Errorf("%s: %s comes from neither a value nor pulsehub-secrets", where, e.Name)
		}
	}
	return env
}

func TestK8sServicesReadEveryVariableTheyAreGiven(t *testing.T) {
	k := loadK8s(t)
	hubYAML := repoFile(t, "deploy/k8s/hub.yaml")
	for _, withOptional := range []bool{true, false} {
		t.Run(fmt.Sprintf("optional secrets set: %v", withOptional), func(t *testing.T) {
			for _, hs := range hubServices {
				_, c := k.deployment(t, hs)
				where := "Deployment pulsehub-" + hs.name
				env := k8sEnv(t, hs.name, where, c, withOptional)
				if env["PULSEHUB_NATS_NKEY_SEED"] == "" || env["PULSEHUB_NATS_CA_FILE"] == "" {
					t.Errorf("%s: no NATS seed or CA", where)
				}
				l, err := loadFor(hs, hubYAML, env)
				if err != nil {
					t.Errorf("%s: deploy/k8s/hub.yaml with its env does not validate:\n%v", where, err)
				}
				for _, name := range slices.Sorted(maps.Keys(env)) {
					if !l.vars[name] {
						t.Errorf("%s is given %s, which `hub run --only %s` never reads", where, name, hs.name)
					}
				}
				if env["PULSEHUB_STREAMS_REPLICAS"] != "3" {
					t.Errorf("%s: PULSEHUB_STREAMS_REPLICAS %q, want 3", where, env["PULSEHUB_STREAMS_REPLICAS"])
				}
			}
		})
	}
}

// statusPath is where healthmon answers for itself: its /health is the
// aggregate of every target, which no probe of the monitor should follow.
const statusPath = "/status.json"

func TestK8sProbesAndPortsAreTheConfiguredOnes(t *testing.T) {
	k := loadK8s(t)
	hubYAML := repoFile(t, "deploy/k8s/hub.yaml")
	if !bytes.Contains(repoFile(t, "services/healthmon/monitor/monitor.go"), []byte(`"GET `+statusPath+`"`)) {
		t.Fatalf("healthmon no longer serves %s", statusPath)
	}
	for _, hs := range hubServices {
		d, c := k.deployment(t, hs)
		where := "Deployment pulsehub-" + hs.name
		l, err := loadFor(hs, hubYAML, k8sEnv(t, hs.name, where, c, true))
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		listen := hs.http(l.cfg).Listen
		port := listenPort(t, listen)
		if !strings.HasPrefix(listen, "0.0.0.0:") {
			t.Errorf("%s listens on %s: unreachable from outside its pod", where, listen)
		}
		if len(c.Ports) != 1 || c.Ports[0].ContainerPort != port {
			t.Errorf("%s: container ports %+v, it listens on %d", where, c.Ports, port)
		}
		wantPath := "/health"
		if hs.name == "healthmon" {
			wantPath = statusPath
		}
		for kind, p := range map[string]*probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s probe", where, kind)
			} else if p.HTTPGet.Path != wantPath || containerPort(t, c, p.HTTPGet.Port) != port {
				t.Errorf("%s: %s probe GET %s on %q, want GET %s on %d", where, kind, p.HTTPGet.Path, p.HTTPGet.Port.Value, wantPath, port)
			}
		}
		var svc serviceSpec
		if !k.object(t, "Service", "pulsehub-"+hs.name, &svc) {
			t.Fatalf("no Service pulsehub-%s", hs.name)
		}
		if svc.Type != "ClusterIP" || len(svc.Ports) != 1 || containerPort(t, c, svc.Ports[0].TargetPort) != port || !selects(svc.Selector, d) {
			t.Errorf("Service pulsehub-%s (%s, selector %v) does not reach port %d of the pods", hs.name, svc.Type, svc.Selector, port)
		}
	}
}

// A service's env may name another's listen address (the health monitor
// probes the others there): it must be that service's Service and port.
func TestK8sServiceAddressesNameTheServices(t *testing.T) {
	k := loadK8s(t)
	for _, hs := range hubServices {
		_, c := k.deployment(t, hs)
		for _, e := range c.Env {
			other, ok := listenVarOf(e.Name)
			if !ok || other.name == hs.name {
				continue
			}
			var svc serviceSpec
			name := "pulsehub-" + other.name
			if !k.object(t, "Service", name, &svc) || len(svc.Ports) != 1 {
				t.Fatalf("no Service %s", name)
			}
			if e.Value != fmt.Sprintf("%s:%d", name, svc.Ports[0].Port) {
				t.Errorf("Deployment pulsehub-%s: %s=%s, want %s:%d", hs.name, e.Name, e.Value, name, svc.Ports[0].Port)
			}
		}
	}
}

// Every Deployment of several replicas keeps one up through a drain; the
// single healthmon has no budget (it would only block drains).
func TestK8sDisruptionBudgets(t *testing.T) {
	k := loadK8s(t)
	for _, hs := range hubServices {
		d, _ := k.deployment(t, hs)
		var pdb pdbSpec
		found := k.object(t, "PodDisruptionBudget", "pulsehub-"+hs.name, &pdb)
		switch {
		case d.Replicas == 1 && found:
			t.Errorf("pulsehub-%s: a PodDisruptionBudget on one replica blocks node drains", hs.name)
		case d.Replicas > 1 && !found:
			t.Errorf("pulsehub-%s: %d replicas and no PodDisruptionBudget", hs.name, d.Replicas)
		case found && (!selects(pdb.Selector.MatchLabels, d) || pdb.MinAvailable == nil || *pdb.MinAvailable < 1 || *pdb.MinAvailable >= d.Replicas):
			t.Errorf("pulsehub-%s: budget %+v for %d replicas: want 1 <= minAvailable < replicas", hs.name, pdb, d.Replicas)
		}
	}
}

// Only the ingester's webhook paths leave the cluster.
func TestK8sIngressExposesOnlyTheWebhooks(t *testing.T) {
	k := loadK8s(t)
	var ing struct {
		Rules []struct {
			HTTP struct {
				Paths []struct {
					Path    string `yaml:"path"`
					Backend struct {
						Service struct {
							Name string `yaml:"name"`
							Port struct {
								Name string `yaml:"name"`
							} `yaml:"port"`
						} `yaml:"service"`
					} `yaml:"backend"`
				} `yaml:"paths"`
			} `yaml:"http"`
		} `yaml:"rules"`
	}
	n := 0
	for _, o := range k.objects {
		if o.Kind == "Ingress" {
			n++
			if err := o.Spec.Decode(&ing); err != nil {
				t.Fatal(err)
			}
		}
		if o.Kind == "Service" {
			var s serviceSpec
			if err := o.Spec.Decode(&s); err != nil || (s.Type != "ClusterIP" && s.Type != "") {
				t.Errorf("Service %s: type %q; only the Ingress exposes anything", o.Metadata.Name, s.Type)
			}
		}
	}
	if n != 1 || len(ing.Rules) == 0 {
		t.Fatalf("%d Ingress objects, want the ingester's", n)
	}
	var svc serviceSpec
	if !k.object(t, "Service", "pulsehub-ingester", &svc) {
		t.Fatal("no Service pulsehub-ingester")
	}
	for _, r := range ing.Rules {
		for _, p := range r.HTTP.Paths {
			b := p.Backend.Service
			if (p.Path != "/github" && p.Path != "/odoo") || b.Name != "pulsehub-ingester" || b.Port.Name != svc.Ports[0].Name {
				t.Errorf("Ingress path %s → %s:%s: want only /github and /odoo to the ingester's port", p.Path, b.Name, b.Port.Name)
			}
		}
	}
}

// Each service verifies the NATS nodes with the CA of ConfigMap nats-ca
// (the one tlsCA of nats-values.yaml names), mounted read-only.
func TestK8sServicesVerifyNATSWithTheChartsCA(t *testing.T) {
	k := loadK8s(t)
	v := loadNATSValues(t)
	caMap := v.TLSCA.ConfigMapName
	for _, hs := range hubServices {
		d, c := k.deployment(t, hs)
		ca := c.env("PULSEHUB_NATS_CA_FILE")
		ok := false
		for _, m := range c.VolumeMounts {
			if ca != m.MountPath+"/"+v.TLSCA.Key || !m.ReadOnly {
				continue
			}
			for _, vol := range d.Template.Spec.Volumes {
				ok = ok || (vol.Name == m.Name && vol.ConfigMap != nil && vol.ConfigMap.Name == caMap)
			}
		}
		if !ok {
			t.Errorf("Deployment pulsehub-%s: PULSEHUB_NATS_CA_FILE %q is not in a read-only mount of ConfigMap %s", hs.name, ca, caMap)
		}
	}
}
