package ingester_test

import (
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
)

func TestFileGivesTheSourcesTheSharedOdooInstances(t *testing.T) {
	yml := `
nats: {url: "nats://nats-1:4222,nats://nats-2:4222"}
odoo:
  default: {url: "http://odoo:8069", database: prod, login: hub}
ingester:
  github: {enabled: false}
  odoo_sources:
    partners: {model: res.partner, instance: default}
`
	env := map[string]string{
		"PULSEHUB_ODOO_DEFAULT_PASSWORD":                "s3cret",
		"PULSEHUB_INGESTER_ODOO_SOURCES_PARTNERS_TOKEN": "0123456789abcdef0123",
	}
	f := ingester.DefaultFile()
	err := config.LoadBytes([]byte(yml), f, config.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config()
	if c.Odoo["default"].Password.Value() != "s3cret" || c.OdooSources["partners"].Token.Value() != env["PULSEHUB_INGESTER_ODOO_SOURCES_PARTNERS_TOKEN"] {
		t.Fatalf("config %+v", c)
	}
	if f.NATS.URL != "nats://nats-1:4222,nats://nats-2:4222" {
		t.Fatalf("nats %q", f.NATS.URL)
	}
}

func TestFileReportsTheSharedSectionsProblems(t *testing.T) {
	yml := `
nats: {url: "nats-1:4222"}
odoo:
  default: {url: "ftp://odoo"}
ingester:
  odoo_sources:
    partners: {token: "0123456789abcdef", instance: other}
`
	f := ingester.DefaultFile()
	err := config.LoadBytes([]byte(yml), f, config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	for _, want := range []string{"nats.url", "odoo.default.url", "ingester.github.webhook_secrets", "ingester.odoo_sources.partners.instance"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no problem at %s in %v", want, err)
		}
	}
}
