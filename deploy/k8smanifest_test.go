package deploy

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// deploy/k8s is checked as `kubectl apply -k deploy/k8s` applies it: built
// by kustomize's own library in-process, every object decoded strictly (an
// unknown or repeated field is an error, as the API server's strict field
// validation has it) into its Kubernetes API type with client-go's scheme,
// and every pod checked by the Pod Security admission library.

// k8s is deploy/k8s as kustomize builds it.
type k8s struct {
	kust    kusttypes.Kustomization
	objects []runtime.Object
}

// strictDecoder decodes YAML into the scheme's types, refusing unknown and
// duplicate fields.
var strictDecoder = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// builtK8s builds deploy/k8s once for every test.
var builtK8s = sync.OnceValues(buildK8s)

func loadK8s(t *testing.T) k8s {
	t.Helper()
	k, err := builtK8s()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func buildK8s() (k8s, error) {
	var k k8s
	fs := filesys.MakeFsOnDisk()
	b, err := fs.ReadFile("k8s/kustomization.yaml")
	if err != nil {
		return k, err
	}
	if err := yaml.UnmarshalStrict(b, &k.kust); err != nil {
		return k, fmt.Errorf("kustomization.yaml: %w", err)
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "k8s")
	if err != nil {
		return k, fmt.Errorf("kustomize build deploy/k8s: %w", err)
	}
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return k, err
		}
		o, err := decodeStrict(y)
		if err != nil {
			return k, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err)
		}
		k.objects = append(k.objects, o)
	}
	return k, nil
}

func decodeStrict(y []byte) (runtime.Object, error) {
	o, _, err := strictDecoder.Decode(y, nil, nil)
	return o, err
}

// objectOf finds the object of type T named name.
func objectOf[T runtime.Object](k k8s, name string) (T, bool) {
	for _, o := range k.objects {
		if v, ok := o.(T); ok && o.(metav1.Object).GetName() == name {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// objectsOf are the objects of type T.
func objectsOf[T runtime.Object](k k8s) []T {
	var out []T
	for _, o := range k.objects {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func (k k8s) deployment(t *testing.T, hs hubService) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	d, ok := objectOf[*appsv1.Deployment](k, "pulsehub-"+hs.name)
	if !ok {
		t.Fatalf("no Deployment pulsehub-%s", hs.name)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("Deployment pulsehub-%s: %d containers, want 1", hs.name, len(d.Spec.Template.Spec.Containers))
	}
	return d, &d.Spec.Template.Spec.Containers[0]
}

// envOf is the value of the container's variable name ("" when it has none
// or takes it from elsewhere).
func envOf(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// containerPort resolves a probe's or a Service's port (number or name).
func containerPort(c *corev1.Container, port intstr.IntOrString) int {
	if port.Type == intstr.Int {
		return port.IntValue()
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort)
		}
	}
	return -1
}

func selects(selector map[string]string, d *appsv1.Deployment) bool {
	for k, v := range selector {
		if d.Spec.Template.Labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

// restrictedEvaluator is the Pod Security admission's own checks.
var restrictedEvaluator = func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	return e
}()

// restrictedViolations says why a pod would be refused in a namespace
// enforcing the restricted Pod Security Standard at the latest version ("" =
// admitted).
func restrictedViolations(meta *metav1.ObjectMeta, spec *corev1.PodSpec) string {
	res := policy.AggregateCheckResults(restrictedEvaluator.EvaluatePod(
		psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, meta, spec))
	if res.Allowed {
		return ""
	}
	var parts []string
	for i, r := range res.ForbiddenReasons {
		parts = append(parts, r+" ("+res.ForbiddenDetails[i]+")")
	}
	return strings.Join(parts, "; ")
}
