package writer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
)

const fileYAML = `
nats: {url: "nats://127.0.0.1:4222"}
odoo:
  default: {url: "http://odoo:8069", database: prod, login: hub, password: {env: ODOO_TEST_PASSWORD}}
routes:
  - name: gh-issues
    from: {stream: GITHUB, subjects: ["github.issues.*"]}
    odoo: {model: project.task, op: upsert, key: {field: x_github_issue_id, value: .issue.id}, values: {name: .issue.title}}
  - name: ocr
    from: {stream: ODOO}
    dispatch: {service: ocr}
odoowriter:
  batch_size: 50
dispatcher: {services: {}}
`

func loadFile(t *testing.T, src string) (*writer.File, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f := writer.DefaultFile()
	return f, config.Load(path, f, config.Options{})
}

func TestFileReadsTheSharedSections(t *testing.T) {
	t.Setenv("ODOO_TEST_PASSWORD", "s3cret")
	f, err := loadFile(t, fileYAML)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config()
	if c.BatchSize != 50 || len(c.Routes) != 2 || c.Odoo["default"].Password.Value() != "s3cret" {
		t.Fatalf("writer config %+v", c)
	}
}

func TestFileRefusesARouteToAMissingInstance(t *testing.T) {
	_, err := loadFile(t, strings.Replace(fileYAML, "  default: {url", "  other: {url", 1))
	if err == nil || !strings.Contains(err.Error(), "routes[0].odoo.instance") {
		t.Fatalf("err = %v", err)
	}
}
