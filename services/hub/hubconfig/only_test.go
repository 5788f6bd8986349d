package hubconfig

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
)

func TestParseOnly(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // nil: an error naming badName and every service
		bad  string
	}{
		{in: "writer", bad: `unknown service "writer"`},
		{in: "odoowriter", want: []string{OdooWriter}},
		{in: "ingester,,dispatcher", bad: "an empty service name"},
		{in: "dispatcher, ingester", want: []string{Ingester, Dispatcher}},
		{in: "", bad: "an empty service name"},
		{in: "healthmon,ingester,healthmon", want: []string{Ingester, Healthmon}},
		{in: "ingester,", bad: "an empty service name"},
		{in: "healthmon,dispatcher,odoowriter,ingester", want: Services()},
		{in: "Ingester", bad: `unknown service "Ingester"`},
		{in: "ingester", want: []string{Ingester}},
	} {
		got, err := ParseOnly(tc.in)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) || !strings.Contains(err.Error(), strings.Join(Services(), ", ")) {
				t.Errorf("ParseOnly(%q) = %v, %v; want an error saying %s and listing %v", tc.in, got, err, tc.bad, Services())
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseOnly(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// onlyYAML uses every section: Odoo (through a route, a source and the
// monitor's probes), a dispatch route, GitHub. No secret is in it.
const onlyYAML = `
nats: {url: "nats://nats-1:4222"}
odoo:
  default: {url: "http://odoo:8069", allow_insecure_http: true, database: prod, login: hub}
routes:
  - name: issues
    from: {stream: GITHUB, subjects: ["github.issues.*"]}
    odoo: {model: project.task, op: upsert, key: {field: x_id, value: .issue.id}, values: {name: .issue.title}}
  - name: ocr
    from: {stream: ODOO}
    dispatch: {service: ocr, path: /extract}
ingester:
  odoo_sources:
    expenses: {model: hr.expense, instance: default}
dispatcher:
  services:
    ocr: {url: "http://ocr:9000"}
`

// loadYAML reads yml with env as the whole environment, as `hub run` does but
// without validating.
func loadYAML(t *testing.T, yml string, env map[string]string) Config {
	t.Helper()
	w := struct {
		C Config `yaml:",inline"` // a field, not embedded: its Validate is not promoted
	}{Default()}
	err := config.LoadBytes([]byte(yml), &w, config.Options{Strict: true, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	return w.C
}

func paths(ps config.Problems) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Path)
	}
	slices.Sort(out)
	return out
}

func TestValidateForChecksOnlyWhatTheServicesUse(t *testing.T) {
	c := loadYAML(t, onlyYAML, nil)
	const (
		password = "odoo.default.password"
		github   = "ingester.github.webhook_secrets"
		token    = "ingester.odoo_sources.expenses.token"
	)
	for _, tc := range []struct {
		only []string
		want []string
	}{
		{[]string{Dispatcher}, nil},
		{[]string{OdooWriter}, []string{password}},
		{[]string{Healthmon}, []string{password}},
		{[]string{Ingester}, []string{github, token, password}},
		{[]string{Dispatcher, Healthmon}, []string{password}},
		{nil, []string{github, token, password}},
		{Services(), []string{github, token, password}},
	} {
		got := paths(c.ValidateFor(tc.only))
		want := slices.Sorted(slices.Values(append([]string{}, tc.want...)))
		if !slices.Equal(got, want) {
			t.Errorf("ValidateFor(%v): problems at %v, want %v", tc.only, got, want)
		}
	}
	if v := c; !slices.Equal(paths(v.Validate()), paths(c.ValidateFor(nil))) {
		t.Errorf("Validate %v, ValidateFor(nil) %v", paths(v.Validate()), paths(c.ValidateFor(nil)))
	}
	if c.Healthmon.Services != nil || c.Ingester.Odoo != nil || c.Writer.Routes != nil {
		t.Error("ValidateFor shared the sections into the caller's config")
	}
}

// Each service's secrets are enough for it alone.
func TestValidateForWithEachServicesOwnSecrets(t *testing.T) {
	secrets := map[string]map[string]string{
		Ingester: {"PULSEHUB_GITHUB_WEBHOOK_SECRET": "s", "PULSEHUB_ODOO_DEFAULT_PASSWORD": "p",
			"PULSEHUB_INGESTER_ODOO_SOURCES_EXPENSES_TOKEN": "0123456789abcdef0123"},
		OdooWriter: {"PULSEHUB_ODOO_DEFAULT_PASSWORD": "p"},
		Dispatcher: {},
		Healthmon:  {"PULSEHUB_ODOO_DEFAULT_PASSWORD": "p"},
	}
	for _, name := range Services() {
		c := loadYAML(t, onlyYAML, secrets[name])
		if ps := c.ValidateFor([]string{name}); len(ps) != 0 {
			t.Errorf("%s with %v: %v", name, slices.Sorted(maps.Keys(secrets[name])), ps)
		}
		if (name == OdooWriter || name == Healthmon) && len(c.ValidateFor(nil)) == 0 {
			t.Errorf("the whole hub validated with only the secrets of %s", name)
		}
	}
}

// A source without an instance does not bring the Odoo instances in.
func TestValidateForIngesterWithoutOdoo(t *testing.T) {
	yml := strings.Replace(onlyYAML, "{model: hr.expense, instance: default}", "{model: hr.expense}", 1)
	c := loadYAML(t, yml, map[string]string{"PULSEHUB_GITHUB_WEBHOOK_SECRET": "s", "PULSEHUB_INGESTER_ODOO_SOURCES_EXPENSES_TOKEN": "0123456789abcdef0123"})
	if ps := c.ValidateFor([]string{Ingester}); len(ps) != 0 {
		t.Fatalf("ingester without Odoo: %v", ps)
	}
	if got := paths(c.ValidateFor([]string{Ingester, OdooWriter})); !slices.Equal(got, []string{"odoo.default.password"}) {
		t.Fatalf("ingester and writer: %v", got)
	}
}

// The shared sections are checked whatever runs; a service's section and
// what it checks of the shared ones only when it runs.
func TestValidateForSharedAndOwnSections(t *testing.T) {
	yml := onlyYAML + `
streams: {replicas: 0}
log: {level: loud}
embedded: {data_dir: ""}
healthmon: {consecutive: 50}
`
	yml = strings.Replace(yml, "dispatch: {service: ocr", "dispatch: {service: llm", 1)
	yml = strings.Replace(yml, "from: {stream: ODOO}", "from: {stream: NOPE}", 1)
	c := loadYAML(t, yml, map[string]string{"PULSEHUB_ODOO_DEFAULT_PASSWORD": "p"})
	shared := []string{"log.level", "routes[1].from.stream", "streams.replicas"}
	for _, tc := range []struct {
		only []string
		more []string
	}{
		{[]string{OdooWriter}, nil},
		{[]string{Dispatcher}, []string{"routes[1].dispatch.service"}},
		{[]string{Healthmon}, []string{"healthmon.consecutive"}},
	} {
		got := paths(c.ValidateFor(tc.only))
		for _, p := range append(slices.Clone(shared), tc.more...) {
			if !slices.Contains(got, p) {
				t.Errorf("ValidateFor(%v): no problem at %s in %v", tc.only, p, got)
			}
		}
		for _, p := range got {
			if !slices.Contains(shared, p) && !slices.Contains(tc.more, p) {
				t.Errorf("ValidateFor(%v): a problem at %s", tc.only, p)
			}
		}
	}
	c.NATS.URL = ""
	if got := paths(c.ValidateFor([]string{OdooWriter})); !slices.Contains(got, "embedded.data_dir") {
		t.Errorf("embedded server not checked without nats.url: %v", got)
	}
	if got := c.ValidateFor([]string{"writer"}); len(got) == 0 || !strings.Contains(got.Error(), `unknown service "writer"`) {
		t.Errorf("an unknown service name: %v", got)
	}
}

func TestReads(t *testing.T) {
	c := loadYAML(t, onlyYAML, nil)
	for path, readers := range map[string][]string{
		"nats.url":                             Services(),
		"streams.replicas":                     Services(),
		"odoo.default.password":                {Ingester, OdooWriter, Healthmon},
		"ingester.github.webhook_secrets":      {Ingester},
		"ingester.http.listen":                 {Ingester, Healthmon},
		"odoowriter.http.tls_cert_file":        {OdooWriter, Healthmon},
		"dispatcher.http.read_timeout":         {Dispatcher},
		"dispatcher.services.ocr.auth":         {Dispatcher},
		"healthmon.http.listen":                {Healthmon},
		"embedded.data_dir":                    nil, // nats.url is set
		"ingester.odoo_sources.expenses.token": {Ingester},
	} {
		for _, name := range Services() {
			if got, want := c.Reads([]string{name}, path), slices.Contains(readers, name); got != want {
				t.Errorf("Reads(%s, %s) = %v, want %v", name, path, got, want)
			}
		}
		if got := c.Reads(nil, path); got != (len(readers) > 0) {
			t.Errorf("Reads(all, %s) = %v", path, got)
		}
	}
	c.NATS.URL = ""
	if !c.Reads([]string{Dispatcher}, "embedded.data_dir") {
		t.Error("the embedded server's settings are read when nats.url is empty")
	}
}
