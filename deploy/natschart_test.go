package deploy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
)

// The NATS chart (nats-io/k8s) is not a Go module, so it is not rendered
// here. Its pods are modelled instead as its templates build them (chart
// 2.x, files/stateful-set/*.yaml and files/nats-box/deployment/*.yaml): each
// container and pod template is the chart's own document, then the values'
// `merge` applied with Helm's mergeOverwrite (maps merged, other values
// replaced), then their `patch` (JSON Patch); `env` maps become the
// container's env. The documents below keep only what the templates put
// there that the Pod Security checks or the merges touch: the chart sets no
// securityContext of its own, so what decides admission is what the values
// add. The results are decoded strictly into the Kubernetes types (a
// misspelled field fails) and checked by the Pod Security admission library
// at level restricted, as namespace pulsehub enforces it.

const chartNATSPod = `
metadata:
  labels: {app.kubernetes.io/name: nats, app.kubernetes.io/instance: nats, app.kubernetes.io/component: nats}
spec:
  shareProcessNamespace: true
  containers: []
  volumes:
    - {name: config, configMap: {name: nats-config}}
    - {name: pid, emptyDir: {}}
    - {name: nats-tls, secret: {secretName: nats-tls}}
    - {name: cluster-tls, secret: {secretName: nats-tls}}
`

const chartNATSContainer = `
name: nats
image: nats:2.15-alpine
ports:
  - {name: nats, containerPort: 4222}
  - {name: cluster, containerPort: 6222}
  - {name: monitor, containerPort: 8222}
args: [--config, /etc/nats-config/nats.conf]
env:
  - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
lifecycle:
  preStop: {exec: {command: [nats-server, -sl=ldm=/var/run/nats/nats.pid]}}
volumeMounts:
  - {name: config, mountPath: /etc/nats-config}
  - {name: pid, mountPath: /var/run/nats}
  - {name: nats-js, mountPath: /data/jetstream}
  - {name: nats-tls, mountPath: /etc/nats-certs/nats}
  - {name: cluster-tls, mountPath: /etc/nats-certs/cluster}
`

const chartReloaderContainer = `
name: reloader
image: natsio/nats-server-config-reloader:0.23.0
args: [-pid, /var/run/nats/nats.pid, -config, /etc/nats-config/nats.conf]
volumeMounts:
  - {name: pid, mountPath: /var/run/nats}
  - {name: config, mountPath: /etc/nats-config}
`

const chartPromExporterContainer = `
name: prom-exporter
image: natsio/prometheus-nats-exporter
ports:
  - {name: prom-metrics, containerPort: 7777}
args: [-port=7777, -connz, -routez, -subz, -varz, -prefix=nats, -use_internal_server_id, -jsz=all, "http://localhost:8222/"]
`

const chartNATSBoxPod = `
metadata:
  labels: {app.kubernetes.io/name: nats, app.kubernetes.io/instance: nats, app.kubernetes.io/component: nats-box}
spec:
  containers: []
  volumes:
    - {name: contexts, secret: {secretName: nats-box-contexts}}
    - {name: contents, secret: {secretName: nats-box-contents}}
    - {name: ctx-default-nkey, secret: {secretName: pulsehub-nats-operator}}
`

const chartNATSBoxContainer = `
name: nats-box
image: natsio/nats-box
command: [sh, -ec, 'mkdir -p "$XDG_CONFIG_HOME/nats"; exec sh -ec "$0"']
args: [trap true INT TERM; sleep infinity & wait]
volumeMounts:
  - {name: contexts, mountPath: /etc/nats-contexts}
  - {name: contents, mountPath: /etc/nats-contents}
  - {name: ctx-default-nkey, mountPath: /etc/nats-nkeys/default}
`

// chartValue is the value at path in the values (nil when absent).
func chartValue(v map[string]any, path ...string) any {
	var cur any = v
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// mergeOverwrite is Helm's (sprig's) mergeOverwrite: maps are merged
// recursively, any other non-empty value of src replaces dst's.
func mergeOverwrite(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeOverwrite(dm, sm)
				continue
			}
		}
		if v != nil {
			dst[k] = v
		}
	}
}

// chartDoc is a chart document with a values section (merge, patch, env)
// applied, as JSON.
func chartDoc(t *testing.T, doc string, section map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	if env, ok := section["env"].(map[string]any); ok {
		list, _ := m["env"].([]any)
		for k, v := range env {
			if s, ok := v.(string); ok {
				list = append(list, map[string]any{"name": k, "value": s})
			} else if vm, ok := v.(map[string]any); ok {
				e := map[string]any{"name": k}
				mergeOverwrite(e, vm)
				list = append(list, e)
			} else {
				t.Fatalf("env %s: the chart takes a string or a map, got %T", k, v)
			}
		}
		m["env"] = list
	}
	if merge, ok := section["merge"].(map[string]any); ok {
		mergeOverwrite(m, merge)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := section["patch"]; ok && p != nil {
		pb, _ := json.Marshal(p)
		patch, err := jsonpatch.DecodePatch(pb)
		if err != nil {
			t.Fatalf("patch %s: %v", pb, err)
		}
		if b, err = patch.Apply(b); err != nil {
			t.Fatalf("patch %s: %v", pb, err)
		}
	}
	return b
}

// strictJSON decodes b into v, refusing unknown fields.
func strictJSON(t *testing.T, what string, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s as the chart renders it from nats-values.yaml: %v\n%s", what, err, b)
	}
}

// chartPod is a pod of the chart: its template with podSection applied,
// and its containers, each with its section applied.
func chartPod(t *testing.T, pod string, podSection map[string]any, containers map[string]map[string]any, order ...string) corev1.PodTemplateSpec {
	t.Helper()
	var spec corev1.PodTemplateSpec
	strictJSON(t, "pod template", chartDoc(t, pod, podSection), &spec)
	docs := map[string]string{"nats": chartNATSContainer, "reloader": chartReloaderContainer,
		"prom-exporter": chartPromExporterContainer, "nats-box": chartNATSBoxContainer}
	for _, name := range order {
		var c corev1.Container
		strictJSON(t, "container "+name, chartDoc(t, docs[name], containers[name]), &c)
		spec.Spec.Containers = append(spec.Spec.Containers, c)
	}
	return spec
}

func section(v map[string]any, path ...string) map[string]any {
	m, _ := chartValue(v, path...).(map[string]any)
	return m
}

func TestNATSChartPodsMeetTheRestrictedStandard(t *testing.T) {
	var v map[string]any
	if err := yaml.Unmarshal(repoFile(t, "deploy/k8s/nats-values.yaml"), &v); err != nil {
		t.Fatal(err)
	}
	if chartValue(v, "reloader", "enabled") != true || chartValue(v, "promExporter", "enabled") != true || chartValue(v, "natsBox", "enabled") != true {
		t.Fatal("the checks below assume the reloader, the exporter and nats-box are on")
	}
	nats := chartPod(t, chartNATSPod, section(v, "podTemplate"), map[string]map[string]any{
		"nats": section(v, "container"), "reloader": section(v, "reloader"), "prom-exporter": section(v, "promExporter"),
	}, "nats", "reloader", "prom-exporter")
	box := chartPod(t, chartNATSBoxPod, section(v, "natsBox", "podTemplate"), map[string]map[string]any{
		"nats-box": section(v, "natsBox", "container"),
	}, "nats-box")
	for name, pod := range map[string]corev1.PodTemplateSpec{"StatefulSet nats": nats, "Deployment nats-box": box} {
		if why := restrictedViolations(&pod.ObjectMeta, &pod.Spec); why != "" {
			t.Errorf("%s: refused by the restricted Pod Security Standard: %s", name, why)
		}
		for _, c := range pod.Spec.Containers {
			if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: container %s has a writable root file system", name, c.Name)
			}
		}
		if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
			t.Errorf("%s mounts a service account token", name)
		}
	}
	// The reloader signals nats-server in the shared process namespace:
	// both run as the pod's one user.
	if sc := nats.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || sc.FSGroup == nil || *sc.FSGroup != *sc.RunAsUser {
		t.Errorf("StatefulSet nats: pod security context %+v: want one user for every container, owning the volumes", sc)
	}
	// The box's CLI writes its contexts under XDG_CONFIG_HOME: a volume.
	bc := box.Spec.Containers[0]
	xdg := ""
	for _, e := range bc.Env {
		if e.Name == "XDG_CONFIG_HOME" {
			xdg = e.Value
		}
	}
	writable := false
	for _, m := range bc.VolumeMounts {
		for _, vol := range box.Spec.Volumes {
			writable = writable || (vol.Name == m.Name && vol.EmptyDir != nil && !m.ReadOnly && strings.HasPrefix(xdg, m.MountPath))
		}
	}
	if !writable {
		t.Errorf("nats-box: XDG_CONFIG_HOME %q is not on a writable volume", xdg)
	}
	// nats-server's memory: a request and a limit, GOMEMLIMIT ~90 % of it.
	nc := nats.Spec.Containers[0]
	if nc.Resources.Requests.Memory().IsZero() || nc.Resources.Limits.Memory().IsZero() {
		t.Errorf("nats: resources %+v, want a memory request and limit", nc.Resources)
	}
	gomem := ""
	for _, e := range nc.Env {
		if e.Name == "GOMEMLIMIT" {
			gomem = e.Value
		}
	}
	checkGoMemLimit(t, "nats", gomem, nc.Resources.Limits.Memory().Value())

	// The check bites: the chart's pods without the values' security
	// contexts are refused.
	bare := chartPod(t, chartNATSPod, nil, nil, "nats", "reloader", "prom-exporter")
	if restrictedViolations(&bare.ObjectMeta, &bare.Spec) == "" {
		t.Fatal("the chart's pod without the values' security contexts passes the restricted check")
	}
}
