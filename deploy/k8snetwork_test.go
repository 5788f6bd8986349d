package deploy

import (
	"fmt"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// netPod is a pod as NetworkPolicies see it: its namespace (with the
// namespace's labels) and its labels.
type netPod struct {
	name      string
	namespace string
	nsLabels  map[string]string
	labels    map[string]string
}

func selectorMatches(t *testing.T, s *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatalf("selector %v: %v", s, err)
	}
	return sel.Matches(labels.Set(l))
}

// allowed says whether the policies let src open a TCP connection to port
// of dst, as a CNI that enforces NetworkPolicies decides: a pod no policy
// selects takes anything; a selected one only what some ingress rule of a
// policy selecting it allows.
func allowed(t *testing.T, policies []*networkingv1.NetworkPolicy, src, dst netPod, port int) bool {
	t.Helper()
	selected := false
	for _, p := range policies {
		if p.Namespace != dst.namespace || !selectorMatches(t, &p.Spec.PodSelector, dst.labels) {
			continue
		}
		selected = true
		for _, r := range p.Spec.Ingress {
			portOK := len(r.Ports) == 0
			for _, pp := range r.Ports {
				portOK = portOK || (pp.Port != nil && pp.Port.IntValue() == port)
			}
			peerOK := len(r.From) == 0
			for _, f := range r.From {
				switch {
				case f.NamespaceSelector == nil && f.PodSelector != nil:
					peerOK = peerOK || (src.namespace == p.Namespace && selectorMatches(t, f.PodSelector, src.labels))
				case f.NamespaceSelector != nil:
					podOK := f.PodSelector == nil || selectorMatches(t, f.PodSelector, src.labels)
					peerOK = peerOK || (podOK && selectorMatches(t, f.NamespaceSelector, src.nsLabels))
				}
			}
			if portOK && peerOK {
				return true
			}
		}
	}
	return !selected
}

// The NetworkPolicies let only the hub's pods (and the chart's nats-box)
// reach the NATS client port, only the NATS pods each other's routes, only
// the ingress controller (and healthmon) the ingester, and nobody else in
// the cluster any of it.
func TestK8sNetworkPoliciesLetThroughOnlyWhatIsNeeded(t *testing.T) {
	k := loadK8s(t)
	policies := objectsOf[*networkingv1.NetworkPolicy](k)
	ns := func(name string) map[string]string { return map[string]string{"kubernetes.io/metadata.name": name} }
	hub := map[string]netPod{}
	for _, hs := range hubServices {
		d, _ := k.deployment(t, hs)
		hub[hs.name] = netPod{"pod of " + d.Name, "pulsehub", ns("pulsehub"), d.Spec.Template.Labels}
	}
	// The chart's pods as its selector labels name them (release nats).
	nats := netPod{"nats-0", "pulsehub", ns("pulsehub"), map[string]string{"app.kubernetes.io/name": "nats",
		"app.kubernetes.io/instance": "nats", "app.kubernetes.io/component": "nats", "helm.sh/chart": "nats-2.14.6"}}
	box := netPod{"nats-box", "pulsehub", ns("pulsehub"), map[string]string{"app.kubernetes.io/name": "nats",
		"app.kubernetes.io/instance": "nats", "app.kubernetes.io/component": "nats-box"}}
	ingress := netPod{"ingress-nginx controller", "ingress-nginx", ns("ingress-nginx"), map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
	prometheus := netPod{"prometheus", "monitoring", ns("monitoring"), map[string]string{"app.kubernetes.io/name": "prometheus"}}
	strangerHere := netPod{"another pod in pulsehub", "pulsehub", ns("pulsehub"), map[string]string{"app": "other"}}
	strangerThere := netPod{"a pod of another namespace", "default", ns("default"), map[string]string{"app.kubernetes.io/part-of": "pulsehub"}}
	others := []netPod{ingress, prometheus, strangerHere, strangerThere, box, nats}

	type conn struct {
		src  netPod
		dst  netPod
		port int
	}
	want := map[string]bool{}
	key := func(c conn) string { return fmt.Sprintf("%s → %s:%d", c.src.name, c.dst.name, c.port) }
	var all []conn
	srcs := append([]netPod{}, others...)
	for _, hs := range hubServices {
		srcs = append(srcs, hub[hs.name])
	}
	type target struct {
		pod   netPod
		ports []int
	}
	dsts := []target{{nats, []int{4222, 6222, 7777, 8222}}, {box, []int{4222}}}
	ports := map[string]int{"ingester": 8080, "odoowriter": 8081, "dispatcher": 8082, "healthmon": 8090}
	for _, hs := range hubServices {
		dsts = append(dsts, target{hub[hs.name], []int{ports[hs.name]}})
	}
	for _, dst := range dsts {
		for _, port := range dst.ports {
			for _, src := range srcs {
				all = append(all, conn{src, dst.pod, port})
			}
		}
	}
	for _, hs := range hubServices {
		want[key(conn{hub[hs.name], nats, 4222})] = true
	}
	want[key(conn{box, nats, 4222})] = true
	want[key(conn{nats, nats, 6222})] = true
	want[key(conn{prometheus, nats, 7777})] = true
	want[key(conn{ingress, hub["ingester"], 8080})] = true
	for _, s := range []string{"ingester", "odoowriter", "dispatcher"} {
		want[key(conn{hub["healthmon"], hub[s], ports[s]})] = true
	}
	for _, c := range all {
		if got := allowed(t, policies, c.src, c.dst, c.port); got != want[key(c)] {
			t.Errorf("%s: allowed %v, want %v", key(c), got, want[key(c)])
		}
	}
}
