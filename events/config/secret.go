// Package config loads the hub's YAML configuration: defaults from the
// caller's struct, then the file, then PULSEHUB_* environment overrides,
// with secrets read from the environment or from files and never printed.
//
// Every service uses this one loader, so the rules below hold everywhere:
//
//   - A field's YAML path (`ingester.github.listen`, `odoo.main.url`) names its
//     environment override: PULSEHUB_ + the path upper-cased with every
//     character that is not a letter or digit turned into `_`
//     (PULSEHUB_INGESTER_GITHUB_LISTEN, PULSEHUB_ODOO_MAIN_URL). A field may
//     declare an extra, shorter name with the `env:"NAME"` tag.
//   - A Secret field can also be read from a file named by the same variable
//     with a _FILE suffix (PULSEHUB_ODOO_MAIN_PASSWORD_FILE), and in YAML it
//     can be written as `{env: VAR}` or `{file: /run/secrets/x}` instead of a
//     literal.
//   - Map entries (keyed by name) are overridable for the keys the file or
//     the defaults already define.
package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Redacted is what a Secret prints as, wherever it is printed, and what
// Scrub puts in the place of a secret value found in text.
const Redacted = "[redacted]"

// Secret is a credential: a password, an API key, a webhook secret. Its
// value is only reachable through Value; every printing path (fmt, JSON,
// YAML, slog) shows "[redacted]".
type Secret struct {
	value  string
	source string // where the value came from: "literal", "env:X", "file:/path"
}

// NewSecret wraps a literal value.
func NewSecret(v string) Secret { return newSecret(v, "literal") }

// newSecret is every Secret's constructor: it registers the value with
// the scrubber (RegisterSecret), so that from then on Scrub replaces it
// in whatever text the hub logs, stores or shows.
func newSecret(v, source string) Secret {
	RegisterSecret(v)
	return Secret{value: v, source: source}
}

// Value returns the secret itself. Call it only where the secret is used.
func (s Secret) Value() string { return s.value }

// IsSet reports whether the secret has a non-empty value.
func (s Secret) IsSet() bool { return s.value != "" }

// Source says where the value came from without revealing it.
func (s Secret) Source() string { return s.source }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if !s.IsSet() {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer so %#v does not leak either.
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML accepts a literal string, `{env: NAME}` or `{file: PATH}`.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var v string
		if err := n.Decode(&v); err != nil {
			return err
		}
		*s = NewSecret(v)
		return nil
	case yaml.MappingNode:
		var ref struct {
			Env  string `yaml:"env"`
			File string `yaml:"file"`
		}
		if err := n.Decode(&ref); err != nil {
			return err
		}
		switch {
		case ref.Env != "" && ref.File != "":
			return fmt.Errorf("line %d: a secret is either {env: NAME} or {file: PATH}, not both", n.Line)
		case ref.Env != "":
			*s = newSecret(os.Getenv(ref.Env), "env:"+ref.Env)
			return nil
		case ref.File != "":
			v, err := readSecretFile(ref.File)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			*s = newSecret(v, "file:"+ref.File)
			return nil
		}
		return fmt.Errorf("line %d: a secret mapping needs env or file", n.Line)
	}
	return fmt.Errorf("line %d: a secret is a string, {env: NAME} or {file: PATH}", n.Line)
}

// readSecretFile reads a secret file, dropping one trailing newline (editors
// and `echo` add one; Kubernetes secret volumes usually do not).
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	v := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(v, "\r"), nil
}
