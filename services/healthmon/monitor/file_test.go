package monitor_test

import (
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
)

func loadFile(t *testing.T, yaml string) (*monitor.File, error) {
	t.Helper()
	f := monitor.DefaultFile()
	return f, config.LoadBytes([]byte(yaml), f, config.Options{})
}

func TestFileReadsTheSharedSections(t *testing.T) {
	f, err := loadFile(t, `
nats: {url: "nats://127.0.0.1:4222"}
odoo:
  main: {url: "http://127.0.0.1:8069", database: prod, login: hub, password: secret}
ingester: {http: {listen: "0.0.0.0:8080"}, github: {enabled: true}}
dispatcher: {http: {listen: "127.0.0.1:8082", tls_cert_file: c.pem, tls_key_file: k.pem}}
`)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config()
	s := c.Services
	if len(s) != 2 || s["ingester"] != "http://127.0.0.1:8080" || s["dispatcher"] != "https://127.0.0.1:8082" {
		t.Fatalf("services = %v (odoowriter's section is absent: not probed)", s)
	}
	if c.Odoo["main"].Database != "prod" {
		t.Fatalf("odoo = %+v", c.Odoo)
	}
}

// Services running apart are probed at the name they are reached by:
// compose and Kubernetes set the other services' listen to it.
func TestFileProbesAServiceByItsName(t *testing.T) {
	f, err := loadFile(t, `
nats: {url: "nats://nats-1:4222"}
ingester: {http: {listen: "ingester:8080"}}
`)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Config().Services; s["ingester"] != "http://ingester:8080" {
		t.Fatalf("services = %v", s)
	}
}

func TestFileValidatesOdooInstances(t *testing.T) {
	_, err := loadFile(t, `
nats: {url: "nats://127.0.0.1:4222"}
odoo:
  main: {url: "ftp://x"}
healthmon: {consecutive: 50}
`)
	if err == nil {
		t.Fatal("an invalid odoo instance and consecutive were accepted")
	}
	ps, ok := err.(config.Problems)
	if !ok {
		t.Fatalf("error %T: %v", err, err)
	}
	paths := map[string]bool{}
	for _, p := range ps {
		paths[p.Path] = true
	}
	if !paths["odoo.main.url"] || !paths["healthmon.consecutive"] {
		t.Fatalf("problems = %v", ps)
	}
}
