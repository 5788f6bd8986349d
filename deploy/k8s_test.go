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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKustomizationListsEveryManifest(t *testing.T) {
	k := loadK8s(t)
	listed := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.kust.Resources {
		listed[r] = true
	}
	for _, g := range k.kust.ConfigMapGenerator {
		for _, f := range g.FileSources {
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
	for _, o := range k.objects {
		m := o.(metav1.Object)
		if _, ns := o.(*corev1.Namespace); !ns && m.GetNamespace() != "pulsehub" {
			t.Errorf("%T %s is in namespace %q, want pulsehub", o, m.GetName(), m.GetNamespace())
		}
	}
	ns, ok := objectOf[*corev1.Namespace](k, "pulsehub")
	if !ok || ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace pulsehub does not enforce the restricted Pod Security Standard: %+v", ns)
	}
}

// The decoder refuses what the API server's strict field validation
// refuses, so the manifests' fields are all real ones.
func TestK8sDecoderIsStrict(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {a: b}}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 1, replicas: 2}\n",
	} {
		if _, err := decodeStrict([]byte(doc)); err == nil {
			t.Errorf("decoded %q", doc)
		}
	}
}

// Namespace pulsehub enforces the restricted standard: every pod the
// manifests make must pass the admission's own checks.
func TestK8sPodsMeetTheRestrictedStandard(t *testing.T) {
	k := loadK8s(t)
	n := 0
	for _, d := range objectsOf[*appsv1.Deployment](k) {
		n++
		if why := restrictedViolations(&d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec); why != "" {
			t.Errorf("Deployment %s: refused by the restricted Pod Security Standard: %s", d.Name, why)
		}
	}
	if n != len(hubServices) {
		t.Errorf("%d Deployments, want %d", n, len(hubServices))
	}
	// The check bites: the same pod without its security contexts is refused.
	d, _ := k.deployment(t, hubServices[0])
	bare := d.Spec.Template.DeepCopy()
	bare.Spec.SecurityContext = nil
	bare.Spec.Containers[0].SecurityContext = nil
	if restrictedViolations(&bare.ObjectMeta, &bare.Spec) == "" {
		t.Fatal("a pod without security contexts passes the restricted check")
	}
}

// Replicas: every service but healthmon is safe to run as several replicas
// sharing its durable consumers; healthmon runs one (see healthmon.yaml).
var k8sReplicas = map[string]func(int32) bool{
	"ingester":   func(n int32) bool { return n >= 2 },
	"odoowriter": func(n int32) bool { return n == 2 },
	"dispatcher": func(n int32) bool { return n == 2 },
	"healthmon":  func(n int32) bool { return n == 1 },
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
		if d.Spec.Replicas == nil || !k8sReplicas[hs.name](*d.Spec.Replicas) {
			t.Errorf("%s: %v replicas", where, d.Spec.Replicas)
		}
		if hs.name == "healthmon" && d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("%s: strategy %q: a rollout must never run two monitors", where, d.Spec.Strategy.Type)
		}
		if !selects(d.Spec.Selector.MatchLabels, d) {
			t.Errorf("%s: the selector %v does not match the pod labels %v", where, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
		}
		if !images["pulsehub/"+hs.name] {
			t.Errorf("%s: no images: entry for pulsehub/%s in kustomization.yaml", where, hs.name)
		}
		checkImageReference(t, where, c.Image)
		checkRunAndConfig(t, k, hs, where, d, c)
		pod := d.Spec.Template.Spec
		if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: want a read-only root file system", where)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token it never uses", where)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if c.Resources.Requests.Name(r, resource.DecimalSI).IsZero() || c.Resources.Limits.Name(r, resource.DecimalSI).IsZero() {
				t.Errorf("%s: %s request %v limit %v", where, r, c.Resources.Requests[r], c.Resources.Limits[r])
			}
		}
		checkGoMemLimit(t, where, envOf(c, "GOMEMLIMIT"), c.Resources.Limits.Memory().Value())
		if len(c.EnvFrom) > 0 {
			t.Errorf("%s: envFrom hands the container keys no check can see; list each variable", where)
		}
	}
}

// checkImageReference refuses an image that names no registry (Docker Hub
// would be asked for someone else's pulsehub/<service>) or no fixed version.
func checkImageReference(t *testing.T, where, image string) {
	t.Helper()
	host, rest, ok := strings.Cut(image, "/")
	_, tag, tagged := strings.Cut(rest, ":")
	_, digest, _ := strings.Cut(rest, "@")
	if !ok || !strings.ContainsAny(host, ".:") || ((!tagged || tag == "latest") && digest == "") {
		t.Errorf("%s: image %q: want <registry host>/<path>:<version> (kustomization.yaml images:)", where, image)
	}
}

// checkRunAndConfig: the container runs `hub run --only <service>` with
// --config naming the mounted hub.yaml of the generated ConfigMap,
// read-only.
func checkRunAndConfig(t *testing.T, k k8s, hs hubService, where string, d *appsv1.Deployment, c *corev1.Container) {
	t.Helper()
	if want := runArgs(hs.name); len(c.Command) > 0 || !slices.Equal(c.Args, want) {
		t.Errorf("%s: command %q args %q, want the image's entrypoint (hub) with args %q", where, c.Command, c.Args, want)
	}
	hubYAML := repoFile(t, "deploy/k8s/hub.yaml")
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/etc/pulsehub" || !m.ReadOnly {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			if cm, ok := objectOf[*corev1.ConfigMap](k, v.ConfigMap.Name); ok && cm.Data["hub.yaml"] == string(hubYAML) &&
				strings.HasPrefix(cm.Name, "pulsehub-config-") {
				return
			}
		}
	}
	t.Errorf("%s: hub.yaml of the generated ConfigMap is not mounted read-only at /etc/pulsehub", where)
}

// secretFiles maps the paths at which a container reads Secret files to
// the Secret and key behind each.
func secretFiles(pod *corev1.PodSpec, c *corev1.Container) map[string][2]string {
	out := map[string][2]string{}
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			for _, it := range v.Secret.Items {
				out[m.MountPath+"/"+it.Path] = [2]string{v.Secret.SecretName, it.Key}
			}
		}
	}
	return out
}

// k8sSecretKeys are the keys Secret pulsehub-secrets may hold: the hub's
// secrets (docker-compose.yml's secrets, one per variable) and the
// variables of .env.example (the NATS public keys, the GitHub App id).
func k8sSecretKeys(t *testing.T) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	for k := range envExample(t) {
		keys[k] = true
	}
	for name := range loadCompose(t, dotEnv(t), "*").Secrets {
		if strings.HasPrefix(name, "PULSEHUB_") || strings.HasPrefix(name, "NATS_") {
			keys[name] = true
		}
	}
	return keys
}

// k8sEnv is what service svc's process sees: its environment, each _FILE
// variable naming a file of Secret pulsehub-secrets replaced by a file
// holding that key's fake value (empty for an optional key unless
// withOptional), the GitHub App id from its key when withOptional. Every
// secret is a file: no secret variable comes from a secretKeyRef, and the
// NATS seed is the service's own key (NATS_<SERVICE>_SEED).
func k8sEnv(t *testing.T, svc, where string, pod *corev1.PodSpec, c *corev1.Container, withOptional bool) map[string]string {
	t.Helper()
	keys := k8sSecretKeys(t)
	fakes := fakeSecrets(t, slices.Sorted(maps.Keys(keys)))
	files := secretFiles(pod, c)
	dir := t.TempDir()
	env := map[string]string{}
	used := map[string]bool{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil && files[e.Value] != [2]string{}:
			ref := files[e.Value]
			used[e.Value] = true
			if !strings.HasSuffix(e.Name, "_FILE") || ref[0] != "pulsehub-secrets" || !keys[ref[1]] {
				t.Errorf("%s: %s=%s is key %s of Secret %s", where, e.Name, e.Value, ref[1], ref[0])
			}
			if (e.Name == "PULSEHUB_NATS_NKEY_SEED_FILE") != (ref[1] == natsauth.SeedVar(svc)) || (strings.HasSuffix(ref[1], "_SEED") && ref[1] != natsauth.SeedVar(svc)) {
				t.Errorf("%s: %s reads key %s; the NATS seed is the service's own %s", where, e.Name, ref[1], natsauth.SeedVar(svc))
			}
			v := fakes[ref[1]]
			if optionalSecrets[ref[1]] && !withOptional {
				v = ""
			}
			f := filepath.Join(dir, ref[1])
			if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
				t.Fatal(err)
			}
			env[e.Name] = f
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if secretLike(e.Name) || ref.Name != "pulsehub-secrets" || ref.Key != e.Name || !keys[ref.Key] {
				t.Errorf("%s: %s from key %s of Secret %s: only what is no secret comes from the environment", where, e.Name, ref.Key, ref.Name)
			}
			if withOptional || ref.Optional == nil || !*ref.Optional {
				env[e.Name] = fakes[ref.Key]
			}
		default:
			t.Errorf("%s: %s comes from neither a value nor pulsehub-secrets", where, e.Name)
		}
	}
	for path := range files {
		if !used[path] {
			t.Errorf("%s mounts %s, which no _FILE variable reads", where, path)
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
				d, c := k.deployment(t, hs)
				where := "Deployment pulsehub-" + hs.name
				env := k8sEnv(t, hs.name, where, &d.Spec.Template.Spec, c, withOptional)
				if env["PULSEHUB_NATS_NKEY_SEED_FILE"] == "" || env["PULSEHUB_NATS_CA_FILE"] == "" {
					t.Errorf("%s: no NATS seed or CA", where)
				}
				l, err := loadFor(hs, hubYAML, env)
				if err != nil {
					t.Errorf("%s: deploy/k8s/hub.yaml with its env does not validate:\n%v", where, err)
				}
				for _, name := range slices.Sorted(maps.Keys(env)) {
					if !l.vars[name] && !runtimeVars[name] {
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
		l, err := loadFor(hs, hubYAML, k8sEnv(t, hs.name, where, &d.Spec.Template.Spec, c, true))
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		listen := hs.http(l.cfg).Listen
		port := listenPort(t, listen)
		if !strings.HasPrefix(listen, "0.0.0.0:") {
			t.Errorf("%s listens on %s: unreachable from outside its pod", where, listen)
		}
		if len(c.Ports) != 1 || int(c.Ports[0].ContainerPort) != port {
			t.Errorf("%s: container ports %+v, it listens on %d", where, c.Ports, port)
		}
		wantPath := "/health"
		if hs.name == "healthmon" {
			wantPath = statusPath
		}
		for kind, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s probe", where, kind)
			} else if p.HTTPGet.Path != wantPath || containerPort(c, p.HTTPGet.Port) != port {
				t.Errorf("%s: %s probe GET %s on %v, want GET %s on %d", where, kind, p.HTTPGet.Path, p.HTTPGet.Port, wantPath, port)
			}
		}
		svc, ok := objectOf[*corev1.Service](k, "pulsehub-"+hs.name)
		if !ok {
			t.Fatalf("no Service pulsehub-%s", hs.name)
		}
		if svc.Spec.Type != corev1.ServiceTypeClusterIP || len(svc.Spec.Ports) != 1 || containerPort(c, svc.Spec.Ports[0].TargetPort) != port || !selects(svc.Spec.Selector, d) {
			t.Errorf("Service pulsehub-%s (%s, selector %v) does not reach port %d of the pods", hs.name, svc.Spec.Type, svc.Spec.Selector, port)
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
			name := "pulsehub-" + other.name
			svc, ok := objectOf[*corev1.Service](k, name)
			if !ok || len(svc.Spec.Ports) != 1 {
				t.Fatalf("no Service %s", name)
			}
			if e.Value != fmt.Sprintf("%s:%d", name, svc.Spec.Ports[0].Port) {
				t.Errorf("Deployment pulsehub-%s: %s=%s, want %s:%d", hs.name, e.Name, e.Value, name, svc.Spec.Ports[0].Port)
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
		pdb, found := objectOf[*policyv1.PodDisruptionBudget](k, "pulsehub-"+hs.name)
		replicas := int(*d.Spec.Replicas)
		switch {
		case replicas == 1 && found:
			t.Errorf("pulsehub-%s: a PodDisruptionBudget on one replica blocks node drains", hs.name)
		case replicas > 1 && !found:
			t.Errorf("pulsehub-%s: %d replicas and no PodDisruptionBudget", hs.name, replicas)
		case found && (!selects(pdb.Spec.Selector.MatchLabels, d) || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 ||
			pdb.Spec.MinAvailable.IntValue() >= replicas):
			t.Errorf("pulsehub-%s: budget %+v for %d replicas: want 1 <= minAvailable < replicas", hs.name, pdb.Spec, replicas)
		}
	}
}

// Only the ingester's webhook paths leave the cluster, over TLS, through
// the controller the Ingress names.
func TestK8sIngressExposesOnlyTheWebhooks(t *testing.T) {
	k := loadK8s(t)
	ings := objectsOf[*networkingv1.Ingress](k)
	if len(ings) != 1 || len(ings[0].Spec.Rules) == 0 {
		t.Fatalf("%d Ingress objects, want the ingester's", len(ings))
	}
	ing := ings[0]
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName == "" {
		t.Error("the Ingress names no ingressClassName: which controller serves it depends on the cluster's default")
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName == "" || !slices.Equal(ing.Spec.TLS[0].Hosts, []string{ing.Spec.Rules[0].Host}) {
		t.Errorf("Ingress TLS %+v: want the host's certificate from a Secret", ing.Spec.TLS)
	}
	for _, s := range objectsOf[*corev1.Service](k) {
		if s.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("Service %s: type %q; only the Ingress exposes anything", s.Name, s.Spec.Type)
		}
	}
	svc, ok := objectOf[*corev1.Service](k, "pulsehub-ingester")
	if !ok {
		t.Fatal("no Service pulsehub-ingester")
	}
	for _, r := range ing.Spec.Rules {
		for _, p := range r.HTTP.Paths {
			b := p.Backend.Service
			if (p.Path != "/github" && p.Path != "/odoo") || b == nil || b.Name != "pulsehub-ingester" || b.Port.Name != svc.Spec.Ports[0].Name {
				t.Errorf("Ingress path %s → %+v: want only /github and /odoo to the ingester's port", p.Path, b)
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
		ca := envOf(c, "PULSEHUB_NATS_CA_FILE")
		ok := false
		for _, m := range c.VolumeMounts {
			if ca != m.MountPath+"/"+v.TLSCA.Key || !m.ReadOnly {
				continue
			}
			for _, vol := range d.Spec.Template.Spec.Volumes {
				ok = ok || (vol.Name == m.Name && vol.ConfigMap != nil && vol.ConfigMap.Name == caMap)
			}
		}
		if !ok {
			t.Errorf("Deployment pulsehub-%s: PULSEHUB_NATS_CA_FILE %q is not in a read-only mount of ConfigMap %s", hs.name, ca, caMap)
		}
	}
}
