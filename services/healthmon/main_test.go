package main

import (
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
)

func load(t *testing.T, yaml string) (*file, error) {
	t.Helper()
	f := &file{Base: service.DefaultBase(), Monitor: monitor.DefaultConfig()}
	return f, config.LoadBytes([]byte(yaml), f, config.Options{})
}

func TestStandaloneReadsTheSharedSections(t *testing.T) {
	f, err := load(t, `
nats: {url: "nats://127.0.0.1:4222"}
odoo:
  main: {url: "http://127.0.0.1:8069", database: prod, login: hub, password: secret}
ingester: {http: {listen: "0.0.0.0:8080"}, github: {enabled: true}}
dispatcher: {http: {listen: "127.0.0.1:8082", tls_cert_file: c.pem, tls_key_file: k.pem}}
`)
	if err != nil {
		t.Fatal(err)
	}
	f.fill()
	s := f.Monitor.Services
	if len(s) != 2 || s["ingester"] != "http://127.0.0.1:8080" || s["dispatcher"] != "https://127.0.0.1:8082" {
		t.Fatalf("services = %v (odoowriter's section is absent: not probed)", s)
	}
	if f.Monitor.Odoo["main"].Database != "prod" {
		t.Fatalf("odoo = %+v", f.Monitor.Odoo)
	}
}

func TestStandaloneValidatesOdooInstances(t *testing.T) {
	_, err := load(t, `
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
