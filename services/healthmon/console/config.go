package console

import (
	"sort"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
)

// Config is the `healthmon.console:` section.
type Config struct {
	Enabled       bool                `yaml:"enabled"`        // serve the console under /console/ on healthmon's port; default false
	PublicRead    bool                `yaml:"public_read"`    // pages readable without logging in (actions still need a login); default false
	Operators     map[string]Operator `yaml:"operators"`      // operator accounts by name ([a-z0-9._-], at most 64); required when enabled
	SessionTTL    time.Duration       `yaml:"session_ttl"`    // how long a login lasts; default 8h
	LoginAttempts int                 `yaml:"login_attempts"` // failed logins allowed per client address and per account within login_window; default 5
	LoginWindow   time.Duration       `yaml:"login_window"`   // the window of login_attempts; default 1m
	PageSize      int                 `yaml:"page_size"`      // jobs and dead letters per page (10-500); default 50
}

// Operator is one account of the console.
type Operator struct {
	Password config.Secret `yaml:"password"` // a password or a long random token (env PULSEHUB_HEALTHMON_CONSOLE_OPERATORS_<NAME>_PASSWORD or _FILE); kept in memory only as a bcrypt hash
}

// Defaults of the section.
const (
	DefaultSessionTTL    = 8 * time.Hour
	DefaultLoginAttempts = 5
	DefaultLoginWindow   = time.Minute
	DefaultPageSize      = 50
	maxOperatorName      = 64
	minPassword          = 12
	maxPassword          = 72 // bcrypt reads no further
)

// DefaultConfig is the console off, with the defaults it has when turned on.
func DefaultConfig() Config {
	return Config{SessionTTL: DefaultSessionTTL, LoginAttempts: DefaultLoginAttempts, LoginWindow: DefaultLoginWindow, PageSize: DefaultPageSize}
}

func (c Config) withDefaults() Config {
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.LoginAttempts <= 0 {
		c.LoginAttempts = DefaultLoginAttempts
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = DefaultLoginWindow
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	return c
}

// Validate reports every problem under path.
func (c Config) Validate(path string) config.Problems {
	var ps config.Problems
	if !c.Enabled {
		return ps
	}
	if len(c.Operators) == 0 {
		ps.Add(path+".operators", "the console needs at least one operator account (a name and a password)")
	}
	names := make([]string, 0, len(c.Operators))
	for n := range c.Operators {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := c.Operators[n].Password.Value()
		switch {
		case !validName(n):
			ps.Add(path+".operators."+n, "name: use 1-%d of a-z 0-9 . _ -", maxOperatorName)
		case len(p) < minPassword:
			ps.Add(path+".operators."+n+".password", "must be at least %d characters (set it from the environment or a file)", minPassword)
		case len(p) > maxPassword:
			ps.Add(path+".operators."+n+".password", "must be at most %d bytes (bcrypt reads no further)", maxPassword)
		}
	}
	if c.SessionTTL < 0 || c.LoginWindow < 0 || c.LoginAttempts < 0 {
		ps.Add(path, "session_ttl, login_window and login_attempts must not be negative")
	}
	if c.PageSize != 0 && (c.PageSize < 10 || c.PageSize > 500) {
		ps.Add(path+".page_size", "must be 10 to 500, got %d", c.PageSize)
	}
	return ps
}

func validName(n string) bool {
	if n == "" || len(n) > maxOperatorName {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
