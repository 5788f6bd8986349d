package deploy

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// The README's Kubernetes commands are checked as an operator would run
// them: in the right namespace, against the pinned chart, with every
// Secret made before it is needed.

// readmeCommands are the kubectl and helm commands of deploy/README.md:
// the lines of its code blocks (continuations joined) and its inline code.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	text := string(repoFile(t, "deploy/README.md"))
	var cmds []string
	inBlock := false
	var cur string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		if cur != "" {
			line = cur + " " + strings.TrimSpace(line)
			cur = ""
		}
		if strings.HasSuffix(line, "\\") {
			cur = strings.TrimSuffix(line, "\\")
			continue
		}
		cmds = append(cmds, strings.TrimSpace(line))
	}
	for _, m := range regexp.MustCompile("`((?:kubectl|helm) [^`]*)`").FindAllStringSubmatch(text, -1) {
		cmds = append(cmds, strings.Join(strings.Fields(m[1]), " "))
	}
	var out []string
	for _, c := range cmds {
		for _, part := range strings.Split(c, "&&") {
			part = strings.TrimSpace(strings.Trim(strings.TrimSpace(part), "()"))
			if strings.HasPrefix(part, "kubectl ") || strings.HasPrefix(part, "helm ") {
				out = append(out, part)
			}
		}
	}
	return out
}

var chartVersionFlag = regexp.MustCompile(`--version (\d+\.\d+\.\d+)`)

// chartVersion is the chart release nats-values.yaml's header pins.
func chartVersion(t *testing.T) string {
	t.Helper()
	m := chartVersionFlag.FindSubmatch(repoFile(t, "deploy/k8s/nats-values.yaml"))
	if m == nil {
		t.Fatal("nats-values.yaml names no --version of the chart")
	}
	if !regexp.MustCompile(`^2\.\d+\.\d+$`).Match(m[1]) {
		t.Fatalf("chart version %s: want a 2.x release", m[1])
	}
	return string(m[1])
}

func TestREADMEKubernetesCommandsNameTheNamespaceAndTheChartVersion(t *testing.T) {
	version := chartVersion(t)
	// Exempt: they carry their namespace themselves, or touch none.
	exempt := []string{"kubectl apply -f deploy/k8s/namespace.yaml", "kubectl apply -k", "kubectl -k", "helm repo add ", "helm search repo "}
	n := 0
	for _, c := range readmeCommands(t) {
		n++
		if slices.ContainsFunc(exempt, func(e string) bool { return strings.HasPrefix(c, e) }) {
			continue
		}
		if !regexp.MustCompile(`(^| )(-n|--namespace) pulsehub( |$)`).MatchString(c) {
			t.Errorf("deploy/README.md: %q lacks -n pulsehub", c)
		}
		if regexp.MustCompile(`^helm (upgrade|install|template)`).MatchString(c) && !strings.Contains(c, "--version "+version+" ") {
			t.Errorf("deploy/README.md: %q does not pin the chart at --version %s", c, version)
		}
	}
	if n < 10 {
		t.Fatalf("found %d kubectl and helm commands in deploy/README.md", n)
	}
	for _, f := range []string{"deploy/k8s/kustomization.yaml", "deploy/k8s/nats-values.yaml", "deploy/README.md"} {
		for _, m := range chartVersionFlag.FindAllSubmatch(repoFile(t, f), -1) {
			if v := string(m[1]); v != version {
				t.Errorf("%s pins the chart at %s, nats-values.yaml at %s", f, v, version)
			}
		}
	}
}

// installSteps is the README's first Kubernetes code block, command by
// command.
func installSteps(t *testing.T) []string {
	t.Helper()
	text := string(repoFile(t, "deploy/README.md"))
	i := strings.Index(text, "## Kubernetes\n")
	j := strings.Index(text[i:], "```sh\n")
	k := strings.Index(text[i+j+6:], "```")
	block := text[i+j+6 : i+j+6+k]
	var steps []string
	cur := ""
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		cur += " " + strings.TrimSpace(strings.TrimSuffix(line, "\\"))
		if !strings.HasSuffix(line, "\\") {
			if s := strings.TrimSpace(cur); s != "" {
				steps = append(steps, s)
			}
			cur = ""
		}
	}
	return steps
}

// Every Secret and ConfigMap the manifests and the NATS values reference,
// with the keys they read, is created by the install steps before the
// step that needs it.
func TestREADMEInstallStepsCreateEverySecretFirst(t *testing.T) {
	k := loadK8s(t)
	need := map[string]map[string]bool{} // "secret/name" or "configmap/name" → keys
	add := func(kind, name string, keys ...string) {
		if need[kind+"/"+name] == nil {
			need[kind+"/"+name] = map[string]bool{}
		}
		for _, key := range keys {
			need[kind+"/"+name][key] = true
		}
	}
	for _, d := range objectsOf[*appsv1.Deployment](k) {
		for _, v := range d.Spec.Template.Spec.Volumes {
			switch {
			case v.Secret != nil:
				for _, it := range v.Secret.Items {
					add("secret", v.Secret.SecretName, it.Key)
				}
			case v.ConfigMap != nil && !strings.HasPrefix(v.ConfigMap.Name, "pulsehub-config-"):
				add("configmap", v.ConfigMap.Name)
			}
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					add("secret", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
			}
		}
	}
	for _, ing := range objectsOf[*networkingv1.Ingress](k) {
		for _, tls := range ing.Spec.TLS {
			add("secret", tls.SecretName, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
		}
	}
	var v struct {
		Config struct {
			Cluster struct{ TLS chartTLSValue } `yaml:"cluster"`
			NATS    struct{ TLS chartTLSValue } `yaml:"nats"`
		} `yaml:"config"`
		TLSCA struct {
			ConfigMapName string `yaml:"configMapName"`
			Key           string `yaml:"key"`
		} `yaml:"tlsCA"`
		Container struct {
			Env map[string]any `yaml:"env"`
		} `yaml:"container"`
		NatsBox struct {
			Contexts map[string]struct {
				Nkey struct {
					SecretName string `yaml:"secretName"`
					Key        string `yaml:"key"`
				} `yaml:"nkey"`
			} `yaml:"contexts"`
		} `yaml:"natsBox"`
	}
	if err := yaml.Unmarshal(repoFile(t, "deploy/k8s/nats-values.yaml"), &v); err != nil {
		t.Fatal(err)
	}
	for _, tls := range []chartTLSValue{v.Config.Cluster.TLS, v.Config.NATS.TLS} {
		add("secret", tls.SecretName, "tls.crt", "tls.key")
		if tls.CA != "" {
			add("secret", tls.SecretName, tls.CA)
		}
	}
	add("configmap", v.TLSCA.ConfigMapName, v.TLSCA.Key)
	for _, ctx := range v.NatsBox.Contexts {
		add("secret", ctx.Nkey.SecretName, ctx.Nkey.Key)
	}
	for name, e := range v.Container.Env {
		if m, ok := e.(map[string]any); ok {
			b, _ := yaml.Marshal(m)
			var ref struct {
				ValueFrom struct {
					SecretKeyRef struct{ Name, Key string } `yaml:"secretKeyRef"`
				} `yaml:"valueFrom"`
			}
			_ = yaml.Unmarshal(b, &ref)
			if ref.ValueFrom.SecretKeyRef.Name == "" {
				t.Errorf("nats-values.yaml: env %s comes from neither a value nor a Secret", name)
			}
			add("secret", ref.ValueFrom.SecretKeyRef.Name, ref.ValueFrom.SecretKeyRef.Key)
		}
	}

	steps := installSteps(t)
	index := func(prefix string) int {
		return slices.IndexFunc(steps, func(s string) bool { return strings.HasPrefix(s, prefix) })
	}
	helmAt, applyAt := index("helm upgrade --install nats"), index("kubectl apply -k deploy/k8s")
	if index("kubectl apply -f deploy/k8s/namespace.yaml") != 0 || helmAt < 0 || applyAt < helmAt {
		t.Fatalf("install steps %q: want the namespace first, then the chart, then the kustomization", steps)
	}
	for what, keys := range need {
		kind, name, _ := strings.Cut(what, "/")
		at := slices.IndexFunc(steps, func(s string) bool {
			return regexp.MustCompile(`^kubectl -n pulsehub create ` + kind + ` (generic |tls )?` + regexp.QuoteMeta(name) + `( |$)`).MatchString(s)
		})
		if at < 0 || at > helmAt {
			t.Errorf("the install steps do not create %s %s before installing the chart (step %d)", kind, name, at)
			continue
		}
		for key := range keys {
			ok := strings.Contains(steps[at], "--from-file="+key+"=") || strings.Contains(steps[at], "--from-literal="+key+"=") ||
				(strings.Contains(steps[at], " tls ") && (key == corev1.TLSCertKey || key == corev1.TLSPrivateKeyKey))
			if !ok {
				t.Errorf("%s %s is created without key %s: %s", kind, name, key, steps[at])
			}
		}
	}
	if len(need) < 5 {
		t.Fatalf("found %d Secrets and ConfigMaps to create: %v", len(need), need)
	}
}
