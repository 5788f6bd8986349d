package deploy

import (
	"maps"
	"slices"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
)

// hubYAMLs are the hub configs the deployment files ship.
var hubYAMLs = []string{"deploy/compose/hub.yaml", "deploy/k8s/hub.yaml", "deploy/hub.example.yaml"}

// Every shipped hub.yaml is valid for `hub run` / `hub config check`:
// strict (no key the hub does not know, in any section), every route
// compiled, every section validated, with every secret of the deployments set
// and an external NATS. The compose and Kubernetes checks then validate it
// for each service alone, with only that container's environment.
func TestShippedHubYAMLsAreStrictlyValid(t *testing.T) {
	env := fakeSecrets(t, slices.Sorted(maps.Keys(k8sSecretKeys(t))))
	env["PULSEHUB_NATS_URL"] = "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222"
	for _, path := range hubYAMLs {
		t.Run(path, func(t *testing.T) {
			c := hubconfig.Default()
			if err := config.LoadBytes(repoFile(t, path), &c, config.Options{Strict: true, LookupEnv: lookup(env)}); err != nil {
				t.Fatalf("%s:\n%v", path, err)
			}
			if path != "deploy/hub.example.yaml" && len(c.Routes) == 0 {
				t.Fatalf("%s has no routes", path)
			}
		})
	}
}

func TestHubYAMLCheckCatchesMistakes(t *testing.T) {
	env := fakeSecrets(t, slices.Sorted(maps.Keys(k8sSecretKeys(t))))
	for _, tc := range []struct{ name, yml string }{
		{"unknown key", "ingester: {listen: 0.0.0.0:8080}"},
		{"bad route", "routes: [{name: x, from: {stream: NOPE}}]"},
		{"missing secret", "ingester: {odoo_sources: {other: {model: res.partner}}}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := hubconfig.Default()
			if err := config.LoadBytes([]byte(tc.yml), &c, config.Options{Strict: true, LookupEnv: lookup(env)}); err == nil {
				t.Fatalf("%s accepted", tc.yml)
			}
		})
	}
}
