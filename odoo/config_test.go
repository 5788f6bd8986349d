package odoo

import (
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
)

func TestDefaultsFillZeroValues(t *testing.T) {
	var c Config
	c.Defaults()
	if c.Transport != TransportXMLRPC || c.MaxConcurrency != 4 || c.Timeout != 30*time.Second {
		t.Fatalf("defaults = %+v", c)
	}
	c = Config{Transport: TransportJSON2, MaxConcurrency: 9, Timeout: time.Second}
	c.Defaults()
	if c.Transport != TransportJSON2 || c.MaxConcurrency != 9 || c.Timeout != time.Second {
		t.Fatalf("defaults overwrote set values: %+v", c)
	}
}

func TestValidateReportsEveryProblemWithItsPath(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want []string // "path: message" prefixes, in order
	}{
		{"valid xmlrpc", Config{URL: "https://erp.example.com", Database: "db", Login: "bot", Password: config.NewSecret("k")}, nil},
		{"valid json2 needs no login or database", Config{URL: "https://odoo:8069/", Transport: "json2", Password: config.NewSecret("k")}, nil},
		{"password in clear text to another machine", Config{URL: "http://odoo:8069/", Transport: "json2", Password: config.NewSecret("k")}, []string{
			"odoo.main.url: http:// to odoo would send the password or API key in clear text to another machine",
		}},
		{"allowed in clear text", Config{URL: "http://odoo:8069/", Transport: "json2", Password: config.NewSecret("k"), AllowInsecureHTTP: true}, nil},
		{"loopback in clear text", Config{URL: "http://127.0.0.1:8069/", Transport: "json2", Password: config.NewSecret("k")}, nil},
		{"empty", Config{}, []string{
			"odoo.main.url: is required",
			"odoo.main.database: is required",
			"odoo.main.login: is required",
			"odoo.main.password: is required",
		}},
		{"bad values", Config{URL: "ftp://x", Transport: "soap", Password: config.NewSecret("k"), MaxConcurrency: -1, Timeout: -time.Second}, []string{
			"odoo.main.url: must be an http or https URL",
			"odoo.main.transport: must be",
			"odoo.main.max_concurrency: must be at least 1",
			"odoo.main.timeout: must be positive",
		}},
		{"credentials in url", Config{URL: "https://bot:hunter2@erp.example.com", Transport: "json2", Password: config.NewSecret("k")}, []string{
			"odoo.main.url: must not hold credentials",
		}},
		{"no host", Config{URL: "https://", Transport: "json2", Password: config.NewSecret("k")}, []string{"odoo.main.url: has no host"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := tc.cfg.Validate("odoo.main")
			if len(ps) != len(tc.want) {
				t.Fatalf("problems = %v, want %d", ps, len(tc.want))
			}
			for i, p := range ps {
				if !strings.HasPrefix(p.String(), tc.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, p, tc.want[i])
				}
				if strings.Contains(p.String(), "hunter2") {
					t.Errorf("problem leaks the URL's password: %q", p)
				}
			}
		})
	}
}

func TestNewRefusesAnInvalidConfig(t *testing.T) {
	_, err := New(Config{URL: "https://bot:hunter2@erp.example.com"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "odoo.url") {
		t.Fatalf("err = %v", err)
	}
}
