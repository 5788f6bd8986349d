package dispatch_test

import (
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
)

func TestFileCarriesTheRoutes(t *testing.T) {
	yml := `
nats: {url: "nats://127.0.0.1:4222"}
routes:
  - name: expense-ocr
    from: {stream: ODOO, subjects: ["odoo.event.hr_expense.*"]}
    dispatch: {service: ocr, path: /extract, body: '{attachment_id: .attachment_id}'}
dispatcher:
  services:
    llm: {url: "http://127.0.0.1:9001"}
`
	f := dispatch.DefaultFile()
	err := config.LoadBytes([]byte(yml), f, config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err == nil || !strings.Contains(err.Error(), "routes[0].dispatch.service") {
		t.Fatalf("err = %v", err)
	}
	if c := f.Config(); len(c.Routes) != 1 || c.Routes[0].Dispatch.Service != "ocr" {
		t.Fatalf("routes not handed to the dispatcher: %+v", c.Routes)
	}
}
