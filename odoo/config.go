package odoo

import (
	"net/url"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
)

// Transports a Client can speak.
const (
	TransportXMLRPC = "xmlrpc" // /xmlrpc/2/common and /xmlrpc/2/object (default)
	TransportJSON2  = "json2"  // Odoo 19+ POST /json/2/<model>/<method>
)

// Defaults for the zero values of Config.
const (
	DefaultMaxConcurrency = 4 // Odoo runs few workers; more parallel calls only queue there
	DefaultTimeout        = 30 * time.Second
)

// Config is one Odoo instance as written in the hub's config file under
// `odoo: {<name>: ...}`.
type Config struct {
	// URL is the base URL of the Odoo server, e.g. https://erp.example.com
	// (a path prefix is kept; credentials in the URL are refused).
	URL string `yaml:"url"`
	// Database is the Odoo database name; required for XML-RPC, sent as
	// X-Odoo-Database with JSON-2 when set.
	Database string `yaml:"database"`
	// Login is the user's login; required for XML-RPC, unused by JSON-2
	// (the API key names its user).
	Login string `yaml:"login"`
	// Password is the user's password or, better, an API key (JSON-2 needs
	// an API key).
	Password config.Secret `yaml:"password"`
	// Transport is "xmlrpc" (default) or "json2".
	Transport string `yaml:"transport"`
	// MaxConcurrency bounds the calls in flight to this instance; default 4.
	MaxConcurrency int `yaml:"max_concurrency"`
	// Timeout bounds each HTTP call to Odoo unless the caller's context
	// ends sooner; default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// AllowInsecureHTTP lets an http:// URL to another machine through
	// validation: the password or API key then crosses the network in clear
	// text, so only for a trusted network (a compose network, a cluster
	// with its own encryption). Loopback is always allowed; default false.
	AllowInsecureHTTP bool `yaml:"allow_insecure_http"`
}

// Defaults fills the zero values with their defaults.
func (c *Config) Defaults() {
	if c.Transport == "" {
		c.Transport = TransportXMLRPC
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
}

// Validate reports every problem with c at once, each at path + "." + the
// field's YAML name (path is e.g. "odoo.main"). Zero values that Defaults
// fills are not problems.
func (c Config) Validate(path string) config.Problems {
	var ps config.Problems
	at := func(field string) string { return path + "." + field }
	validateURL(&ps, at("url"), c.URL)
	if c.Password.IsSet() {
		config.CheckCleartext(&ps, at("url"), c.URL, "the password or API key", c.AllowInsecureHTTP)
	}
	transport := c.Transport
	if transport == "" {
		transport = TransportXMLRPC
	}
	switch transport {
	case TransportXMLRPC:
		if c.Database == "" {
			ps.Add(at("database"), "is required with the xmlrpc transport")
		}
		if c.Login == "" {
			ps.Add(at("login"), "is required with the xmlrpc transport")
		}
	case TransportJSON2:
	default:
		ps.Add(at("transport"), "must be %q or %q, got %q", TransportXMLRPC, TransportJSON2, c.Transport)
	}
	if !c.Password.IsSet() {
		ps.Add(at("password"), "is required (a password or an API key)")
	}
	if c.MaxConcurrency < 0 {
		ps.Add(at("max_concurrency"), "must be at least 1, got %d", c.MaxConcurrency)
	}
	if c.Timeout < 0 {
		ps.Add(at("timeout"), "must be positive, got %s", c.Timeout)
	}
	return ps
}

func validateURL(ps *config.Problems, path, raw string) {
	if raw == "" {
		ps.Add(path, "is required")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		// url.Parse's error quotes the URL, which may hold credentials.
		ps.Add(path, "is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		ps.Add(path, "must be an http or https URL")
	case u.Host == "":
		ps.Add(path, "has no host")
	case u.User != nil:
		ps.Add(path, "must not hold credentials; use login and password")
	case u.RawQuery != "" || u.Fragment != "":
		ps.Add(path, "must not have a query or fragment")
	}
}

// baseURL is the URL without a trailing slash, ready for path joins.
func (c Config) baseURL() string { return strings.TrimRight(c.URL, "/") }
