package deploy

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"
)

// The manifests of deploy/k8s as the checks read them: only the fields
// they check, so a manifest may say more.

// kustomization is deploy/k8s/kustomization.yaml.
type kustomization struct {
	Namespace          string   `yaml:"namespace"`
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
	Images []struct {
		Name string `yaml:"name"`
	} `yaml:"images"`
}

// k8sObject is the part of a manifest the checks read; Spec is decoded per
// kind.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
	file string
}

type deploymentSpec struct {
	Replicas int `yaml:"replicas"`
	Strategy struct {
		Type string `yaml:"type"`
	} `yaml:"strategy"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name     string `yaml:"name"`
				Key      string `yaml:"key"`
				Optional bool   `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	EnvFrom        []any  `yaml:"envFrom"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

// env is the value of the container's variable name ("" when it has none
// or takes it from a Secret).
func (c container) env(name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

type probe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

type serviceSpec struct {
	Type     string            `yaml:"type"`
	Selector map[string]string `yaml:"selector"`
	Ports    []struct {
		Name       string    `yaml:"name"`
		Port       int       `yaml:"port"`
		TargetPort yaml.Node `yaml:"targetPort"`
	} `yaml:"ports"`
}

type pdbSpec struct {
	MinAvailable   *int `yaml:"minAvailable"`
	MaxUnavailable *int `yaml:"maxUnavailable"`
	Selector       struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
}

// k8s is deploy/k8s as kustomize builds it.
type k8s struct {
	kust    kustomization
	objects []k8sObject
}

func loadK8s(t *testing.T) k8s {
	t.Helper()
	var k k8s
	if err := yaml.Unmarshal(repoFile(t, "deploy/k8s/kustomization.yaml"), &k.kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	for _, r := range k.kust.Resources {
		dec := yaml.NewDecoder(bytes.NewReader(repoFile(t, "deploy/k8s/"+r)))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("deploy/k8s/%s: %v", r, err)
			}
			o.file = r
			k.objects = append(k.objects, o)
		}
	}
	return k
}

// object finds kind/name, decoding its spec into spec.
func (k k8s) object(t *testing.T, kind, name string, spec any) bool {
	t.Helper()
	for _, o := range k.objects {
		if o.Kind == kind && o.Metadata.Name == name {
			if err := o.Spec.Decode(spec); err != nil {
				t.Fatalf("%s %s (%s): %v", kind, name, o.file, err)
			}
			return true
		}
	}
	return false
}

func (k k8s) deployment(t *testing.T, hs hubService) (deploymentSpec, container) {
	t.Helper()
	var d deploymentSpec
	if !k.object(t, "Deployment", "pulsehub-"+hs.name, &d) {
		t.Fatalf("no Deployment pulsehub-%s", hs.name)
	}
	if len(d.Template.Spec.Containers) != 1 {
		t.Fatalf("Deployment pulsehub-%s: %d containers, want 1", hs.name, len(d.Template.Spec.Containers))
	}
	return d, d.Template.Spec.Containers[0]
}

// containerPort resolves a probe's or a Service's port (number or name).
func containerPort(t *testing.T, c container, port yaml.Node) int {
	t.Helper()
	if n, err := strconv.Atoi(port.Value); err == nil {
		return n
	}
	for _, p := range c.Ports {
		if p.Name == port.Value {
			return p.ContainerPort
		}
	}
	return -1
}

func selects(selector map[string]string, d deploymentSpec) bool {
	for k, v := range selector {
		if d.Template.Metadata.Labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}
