package ingester

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/odoohook"
	"github.com/insightpulse/pulsehub/services/ingester/reconcile"
)

// Config is the `ingester:` section of the hub config.
type Config struct {
	HTTP        service.HTTPConfig    `yaml:"http"`         // listener; default 127.0.0.1:8080
	GitHub      GitHubConfig          `yaml:"github"`       // POST /github
	OdooSources map[string]OdooSource `yaml:"odoo_sources"` // POST /odoo/{name}/{token}, one entry per name; none by default
	OdooWebhook OdooWebhookConfig     `yaml:"odoo_webhook"` // limits shared by the Odoo sources

	MaxInFlightBytes int64         `yaml:"max_in_flight_bytes"` // bytes of request bodies held at once across endpoints (more: 503); a body holds its bytes as they arrive, never what it announces; a larger body is served alone; 0 = unlimited; default 268435456 (256 MiB)
	MinBodyRate      int64         `yaml:"min_body_rate"`       // bytes per second a body must keep up after min_body_rate_grace, or it is cut with 408 (each byte received buys 1/min_body_rate s); 0 = no floor; default 65536 (64 KiB/s)
	MinBodyRateGrace time.Duration `yaml:"min_body_rate_grace"` // how long a body may take before min_body_rate applies; default 5s
	LogAccepted      bool          `yaml:"log_accepted"`        // write the request log line of every stored (or duplicate) delivery at info; false: at debug, for throughput (the line is ~8 % of the CPU under load), while refusals and failures are always logged and the metrics count every request; default true

	// Odoo holds the instances of the hub's top-level `odoo:` section
	// (shared with the writer and the health monitor), filled in by whoever
	// runs the ingester. A source's `instance` names one.
	Odoo map[string]odoo.Config `yaml:"-"`
}

// GitHubConfig is `ingester.github`.
type GitHubConfig struct {
	Enabled               bool            `yaml:"enabled"`                                              // serve POST /github; default true
	WebhookSecrets        []config.Secret `yaml:"webhook_secrets" env:"PULSEHUB_GITHUB_WEBHOOK_SECRET"` // accepted signing secrets (rotation: list old and new); required unless insecure_skip_signature
	InsecureSkipSignature bool            `yaml:"insecure_skip_signature"`                              // DEVELOPMENT ONLY: accept unsigned deliveries, logged loudly; default false
	MaxBodyBytes          int64           `yaml:"max_body_bytes"`                                       // bytes; default 26214400 (25 MiB, GitHub's cap)
	PublishTimeout        time.Duration   `yaml:"publish_timeout"`                                      // how long a publish may wait for the PubAck, retrying through a leader election, before answering 503; default 8s (GitHub waits 10s)
	App                   GitHubAppConfig `yaml:"app"`                                                  // the App, for the redelivery reconciler

	// DuplicateWindow is the GITHUB stream's duplicate window
	// (streams.limits.GITHUB.duplicate_window), filled in by whoever runs
	// the ingester: the reconciler's lookback must stay inside it, or a
	// delivery GitHub logged as failed but the hub stored would be stored
	// again when redelivered. 0 = not checked.
	DuplicateWindow time.Duration `yaml:"-"`
}

// GitHubAppConfig is `ingester.github.app`: the GitHub App whose failed
// deliveries the reconciler asks again. Off when private_key is unset.
type GitHubAppConfig struct {
	AppID             int64         `yaml:"app_id" env:"PULSEHUB_GITHUB_APP_ID"`               // the App's numeric id
	PrivateKey        config.Secret `yaml:"private_key" env:"PULSEHUB_GITHUB_APP_PRIVATE_KEY"` // the App's PEM private key; unset = reconciler off
	BaseURL           string        `yaml:"base_url"`                                          // REST API root; default https://api.github.com/ (GHES: https://<host>/api/v3/)
	AllowInsecureHTTP bool          `yaml:"allow_insecure_http"`                               // an http:// base_url to another machine is refused unless this is true (the App's JWT would cross the network in clear text); loopback is always allowed; default false
	Interval          time.Duration `yaml:"interval"`                                          // between reconciler passes; default 5m
	Lookback          time.Duration `yaml:"lookback"`                                          // oldest deliveries looked at, and how long a failed one is asked for; under GitHub's 72h retention and the GITHUB duplicate window; default 70h
	Overlap           time.Duration `yaml:"overlap"`                                           // each pass looks this far before its checkpoint, for deliveries GitHub lists late; under lookback, at most 6h; default 15m
	MaxPages          int           `yaml:"max_pages"`                                         // list requests (of 100 deliveries) per pass; the rest is listed by the next pass; default 100

	MaxRedeliveriesPerPass   int           `yaml:"max_redeliveries_per_pass"`   // redelivery requests per pass; the rest wait for the next; default 100
	MaxRedeliveriesPerMinute int           `yaml:"max_redeliveries_per_minute"` // redelivery requests per minute, evenly spaced; 1-60 (GitHub asks for a second between mutating requests); default 30
	RedeliveryBackoff        time.Duration `yaml:"redelivery_backoff"`          // a failed delivery is asked again after this, doubled each time; default 10m
	RedeliveryBackoffMax     time.Duration `yaml:"redelivery_backoff_max"`      // the longest wait between two requests for one delivery; default 6h
}

// OdooWebhookConfig is `ingester.odoo_webhook`: limits of POST /odoo/{name}/{token}.
type OdooWebhookConfig struct {
	MaxBodyBytes   int64         `yaml:"max_body_bytes"`  // bytes; default 1048576 (1 MiB)
	PublishTimeout time.Duration `yaml:"publish_timeout"` // how long a publish may wait for the PubAck, retrying through a leader election, before answering 503; default 700ms (Odoo waits 1s)
}

// OdooSource is `ingester.odoo_sources.<name>`: one Odoo webhook action's URL.
type OdooSource struct {
	Token    config.Secret `yaml:"token"`    // the secret in the URL; required (env PULSEHUB_INGESTER_ODOO_SOURCES_<NAME>_TOKEN or _FILE)
	Model    string        `yaml:"model"`    // the only model accepted (others: 400), an Odoo model name of at most 64 bytes; required for the poll; default any
	Instance string        `yaml:"instance"` // a key of the top-level odoo: section; ce-source and the poll's Odoo
	Poll     PollConfig    `yaml:"poll"`     // catch-up of changes the webhook lost
}

// PollConfig is `ingester.odoo_sources.<name>.poll`.
type PollConfig struct {
	Enabled  bool          `yaml:"enabled"`   // poll Odoo for changes the webhook missed; default false
	Interval time.Duration `yaml:"interval"`  // between passes; default 1m
	PageSize int           `yaml:"page_size"` // records per search_read; default 200
	Fields   []string      `yaml:"fields"`    // fields read and stored, as the webhook action sends them; must include write_date; default [write_date]
	Overlap  time.Duration `yaml:"overlap"`   // each pass re-reads this far before its checkpoint (late commits, clock skew); default 1m
	Lookback time.Duration `yaml:"lookback"`  // the first pass starts this far back; default 1h, at most the ODOO duplicate window
}

// DefaultConfig listens on 127.0.0.1:8080 with GitHub enabled (a webhook
// secret must then be configured) and no Odoo sources.
func DefaultConfig() Config {
	return Config{
		HTTP: service.HTTPConfig{Listen: "127.0.0.1:8080", ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10, ShutdownTimeout: 10 * time.Second,
			DrainPeriod: 5 * time.Second},
		GitHub: GitHubConfig{Enabled: true, MaxBodyBytes: githubhook.DefaultMaxBodyBytes, PublishTimeout: 8 * time.Second,
			App: GitHubAppConfig{BaseURL: reconcile.DefaultBaseURL, Interval: reconcile.DefaultInterval, Lookback: reconcile.DefaultLookback,
				Overlap: reconcile.DefaultOverlap, MaxPages: reconcile.DefaultMaxPages, MaxRedeliveriesPerPass: reconcile.DefaultMaxPerPass,
				MaxRedeliveriesPerMinute: reconcile.DefaultMaxPerMinute, RedeliveryBackoff: reconcile.DefaultBackoff,
				RedeliveryBackoffMax: reconcile.DefaultMaxBackoff}},
		OdooWebhook:      OdooWebhookConfig{MaxBodyBytes: odoohook.DefaultMaxBodyBytes, PublishTimeout: 700 * time.Millisecond},
		MaxInFlightBytes: intake.DefaultBudgetBytes,
		MinBodyRate:      intake.DefaultMinBodyRate,
		MinBodyRateGrace: intake.DefaultMinBodyRateGrace,
		LogAccepted:      true,
	}
}

// Validate reports every problem under path (the hub passes "ingester").
func (c Config) Validate(path string) config.Problems {
	ps := c.HTTP.Validate(path + ".http")
	ps = append(ps, c.GitHub.validate(path+".github")...)
	ps = append(ps, c.OdooWebhook.validate(path+".odoo_webhook")...)
	if c.MaxInFlightBytes < 0 {
		ps.Add(path+".max_in_flight_bytes", "must not be negative (0 = unlimited; default %d, 256 MiB)", intake.DefaultBudgetBytes)
	}
	if c.MinBodyRate < 0 {
		ps.Add(path+".min_body_rate", "must not be negative (0 = no floor; default %d, 64 KiB/s)", intake.DefaultMinBodyRate)
	}
	nonNegative(&ps, path+".min_body_rate_grace", c.MinBodyRateGrace)
	names := make([]string, 0, len(c.OdooSources))
	for n := range c.OdooSources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ps = append(ps, c.OdooSources[n].validate(fmt.Sprintf("%s.odoo_sources.%s", path, n), n, c.Odoo)...)
	}
	return ps
}

func (g GitHubConfig) validate(path string) config.Problems {
	var ps config.Problems
	if g.Enabled && !g.InsecureSkipSignature && len(secrets(g.WebhookSecrets)) == 0 {
		ps.Add(path+".webhook_secrets", "is required: set PULSEHUB_GITHUB_WEBHOOK_SECRET (or _FILE) to the GitHub App's webhook secret; "+
			"or set %s.enabled: false for a hub without GitHub (insecure_skip_signature: true is for development only)", path)
	}
	positive(&ps, path+".max_body_bytes", g.MaxBodyBytes)
	positive(&ps, path+".publish_timeout", g.PublishTimeout)
	a, ap := g.App, path+".app"
	if a.PrivateKey.IsSet() {
		if err := reconcile.CheckKey([]byte(a.PrivateKey.Value())); err != nil {
			ps.Add(ap+".private_key", "%v", err)
		}
		if a.AppID <= 0 {
			ps.Add(ap+".app_id", "is required with a private_key (the App's id from its settings page)")
		}
		if u, err := url.Parse(a.BaseURL); a.BaseURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
			ps.Add(ap+".base_url", "want an http(s) URL such as https://api.github.com/, got %q", a.BaseURL)
		} else {
			config.CheckCleartext(&ps, ap+".base_url", a.BaseURL, "the App's signed JWT", a.AllowInsecureHTTP)
		}
		ps = append(ps, a.validateReconciler(ap, g.DuplicateWindow)...)
	}
	return ps
}

// validateReconciler checks the reconciler's window and pacing against
// what GitHub keeps and allows, and against the GITHUB duplicate window.
func (a GitHubAppConfig) validateReconciler(path string, duplicateWindow time.Duration) config.Problems {
	var ps config.Problems
	positive(&ps, path+".interval", a.Interval)
	positive(&ps, path+".lookback", a.Lookback)
	positive(&ps, path+".overlap", a.Overlap)
	positive(&ps, path+".redelivery_backoff", a.RedeliveryBackoff)
	if a.Lookback >= reconcile.Retention {
		ps.Add(path+".lookback", "%s is not under GitHub's %s retention: deliveries near the edge are refused a redelivery; keep a margin (default %s)",
			a.Lookback, reconcile.Retention, reconcile.DefaultLookback)
	}
	if duplicateWindow > 0 && a.Lookback >= duplicateWindow {
		ps.Add(path+".lookback", "%s is not shorter than the GITHUB stream's duplicate window (streams.limits.GITHUB.duplicate_window, %s): "+
			"a delivery the hub stored but GitHub logged as failed would be stored again when redelivered", a.Lookback, duplicateWindow)
	}
	if a.Overlap > 6*time.Hour || (a.Lookback > 0 && a.Overlap >= a.Lookback) {
		ps.Add(path+".overlap", "%s must be under the lookback and at most 6h: every pass lists that much again", a.Overlap)
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"max_pages", a.MaxPages}, {"max_redeliveries_per_pass", a.MaxRedeliveriesPerPass}, {"max_redeliveries_per_minute", a.MaxRedeliveriesPerMinute}} {
		if n.v < 1 {
			ps.Add(path+"."+n.key, "must be at least 1")
		}
	}
	if a.MaxRedeliveriesPerMinute > 60 {
		ps.Add(path+".max_redeliveries_per_minute", "%d is over 60: GitHub asks for a second at least between mutating requests (secondary rate limits)",
			a.MaxRedeliveriesPerMinute)
	}
	if a.RedeliveryBackoffMax < a.RedeliveryBackoff {
		ps.Add(path+".redelivery_backoff_max", "%s is shorter than redelivery_backoff %s", a.RedeliveryBackoffMax, a.RedeliveryBackoff)
	}
	return ps
}

func (o OdooWebhookConfig) validate(path string) config.Problems {
	var ps config.Problems
	positive(&ps, path+".max_body_bytes", o.MaxBodyBytes)
	positive(&ps, path+".publish_timeout", o.PublishTimeout)
	if o.PublishTimeout >= time.Second {
		ps.Add(path+".publish_timeout", "%s is not under Odoo's 1s webhook timeout; keep it well under (default 700ms)", o.PublishTimeout)
	}
	return ps
}

func (s OdooSource) validate(path, name string, instances map[string]odoo.Config) config.Problems {
	var ps config.Problems
	if !events.IsName(name) {
		ps.Add(path, "source name %q: use 1-%d letters, digits, '-' or '_' (it is a URL segment, a subject token and a checkpoint key)", name, events.MaxNameLen)
	}
	if s.Model != "" && !events.IsOdooModel(s.Model) {
		ps.Add(path+".model", "%q is not an Odoo model name (like res.partner, at most %d bytes)", s.Model, events.MaxNameLen)
	}
	if !s.Token.IsSet() {
		ps.Add(path+".token", "is required: a long random secret that goes in the webhook URL (env %s or _FILE)", config.EnvName(path+".token"))
	} else if len(s.Token.Value()) < 16 {
		ps.Add(path+".token", "is too short: use at least 16 random characters (e.g. openssl rand -hex 24)")
	}
	if _, ok := instances[s.Instance]; s.Instance != "" && instances != nil && !ok {
		ps.Add(path+".instance", "%q is not an instance of the top-level odoo: section", s.Instance)
	}
	if s.Poll.Enabled {
		ps = append(ps, s.Poll.validate(path+".poll", s)...)
	}
	return ps
}

func (p PollConfig) validate(path string, s OdooSource) config.Problems {
	var ps config.Problems
	if s.Model == "" {
		ps.Add(path, "a poll needs the source's model")
	}
	if s.Instance == "" {
		ps.Add(path, "a poll needs the source's instance (a key of the top-level odoo: section)")
	}
	if len(p.Fields) > 0 && !slices.Contains(p.Fields, "write_date") {
		ps.Add(path+".fields", "must include write_date: with _model and _id it identifies a change, so webhook and poll store it once")
	}
	nonNegative(&ps, path+".interval", p.Interval)
	nonNegative(&ps, path+".overlap", p.Overlap)
	nonNegative(&ps, path+".lookback", p.Lookback)
	if p.PageSize < 0 {
		ps.Add(path+".page_size", "must not be negative")
	}
	if p.Overlap > time.Hour {
		ps.Add(path+".overlap", "%s is over 1h: every pass would re-read that much", p.Overlap)
	}
	if p.Lookback > 24*time.Hour {
		ps.Add(path+".lookback", "%s is longer than the ODOO stream's default duplicate window (24h): changes already stored would be stored again", p.Lookback)
	}
	return ps
}

func positive[T int64 | time.Duration](ps *config.Problems, path string, v T) {
	if v <= 0 {
		ps.Add(path, "must be positive")
	}
}

func nonNegative(ps *config.Problems, path string, d time.Duration) {
	if d < 0 {
		ps.Add(path, "must not be negative")
	}
}

// secrets returns the set values of ss.
func secrets(ss []config.Secret) []string {
	var out []string
	for _, s := range ss {
		if s.IsSet() {
			out = append(out, s.Value())
		}
	}
	return out
}
