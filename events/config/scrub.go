package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// MinSecretBytes is the shortest secret value Scrub replaces. A shorter
// one is not looked for: replacing every "admin" or "k1" in a log line
// would destroy ordinary text and hide nothing worth hiding. The hub warns
// about configured secrets shorter than this (ShortSecrets).
const MinSecretBytes = 8

// scrubber holds every secret value the process knows, in every form it
// is looked for, and the replacer built from them.
var scrubber struct {
	mu    sync.Mutex
	forms map[string]bool
	state atomic.Pointer[scrubState]
}

// scrubState is one immutable snapshot: Scrub reads it without a lock.
type scrubState struct {
	olds []string // longest first
	r    *strings.Replacer
}

// RegisterSecret adds a secret value to those Scrub replaces. Every
// Secret registers its value when it is made (from YAML, the environment,
// a file or NewSecret), so configured secrets need no call; a secret the
// hub makes itself (generated credentials) is registered here. Values
// shorter than MinSecretBytes are ignored. Besides the value itself, its
// meaningful parts and encodings are registered: for "<scheme> <token>"
// (an auth header value such as "Bearer xyz") the token too, for
// "Basic <base64>" the decoded "user:password" and the password; and each
// of those URL-encoded and JSON-escaped, as an echoed request shows them.
func RegisterSecret(v string) {
	forms := secretForms(v)
	if len(forms) == 0 {
		return
	}
	scrubber.mu.Lock()
	defer scrubber.mu.Unlock()
	if scrubber.forms == nil {
		scrubber.forms = map[string]bool{}
	}
	added := false
	for _, f := range forms {
		if !scrubber.forms[f] {
			scrubber.forms[f], added = true, true
		}
	}
	if !added {
		return
	}
	olds := make([]string, 0, len(scrubber.forms))
	for f := range scrubber.forms {
		olds = append(olds, f)
	}
	// Longest first: the replacer tries the olds in argument order at each
	// position, so a whole "Bearer xyz" wins over its token "xyz".
	slices.SortFunc(olds, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	pairs := make([]string, 0, 2*len(olds))
	for _, o := range olds {
		pairs = append(pairs, o, Redacted)
	}
	scrubber.state.Store(&scrubState{olds: olds, r: strings.NewReplacer(pairs...)})
}

// Scrub returns s with every registered secret value replaced by
// "[redacted]". It is what stands between a secret and any text the hub
// logs (the loggers service.NewLogger builds), stores (a job's last_error,
// a dead letter's reason, health statuses) or shows (status pages, the
// operator commands): a microservice or an Odoo that echoes a request's
// credentials in its error answer must not put them there.
func Scrub(s string) string {
	st := scrubber.state.Load()
	if st == nil || len(s) < MinSecretBytes {
		return s
	}
	for _, o := range st.olds {
		if strings.Contains(s, o) {
			return st.r.Replace(s)
		}
	}
	return s
}

// secretForms lists the strings a secret value may appear as in text, each
// at least MinSecretBytes long.
func secretForms(v string) []string {
	parts := []string{v, strings.TrimSpace(v)}
	if scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok && isSchemeName(scheme) {
		cred = strings.TrimSpace(cred)
		parts = append(parts, cred)
		if strings.EqualFold(scheme, "basic") {
			if dec, ok := decodeBase64(cred); ok {
				parts = append(parts, dec)
				if _, pass, ok := strings.Cut(dec, ":"); ok {
					parts = append(parts, pass)
				}
			}
		}
	}
	var out []string
	for _, p := range parts {
		for _, f := range []string{p, url.QueryEscape(p), url.PathEscape(p), jsonEscaped(p, false), jsonEscaped(p, true)} {
			if len(f) >= MinSecretBytes && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// isSchemeName reports whether s can be an HTTP auth scheme ("Bearer",
// "Basic", "Token", "ApiKey").
func isSchemeName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func decodeBase64(s string) (string, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return string(b), true
		}
	}
	return "", false
}

// jsonEscaped is s as it appears inside a JSON string.
func jsonEscaped(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if enc.Encode(s) != nil {
		return s
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(out, `"`), `"`)
}

// ScrubWriter returns a writer that scrubs every Write before passing it
// on to w: for output written a whole line or document at a time (the
// operator commands' tables and JSON), so a secret is never split across
// two writes.
func ScrubWriter(w io.Writer) io.Writer { return scrubWriter{w} }

type scrubWriter struct{ w io.Writer }

func (s scrubWriter) Write(p []byte) (int, error) {
	out := Scrub(string(p))
	if len(out) == len(p) && out == string(p) {
		return s.w.Write(p)
	}
	if _, err := io.WriteString(s.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ShortSecrets lists the YAML paths of the secrets set in the struct
// behind dst that are shorter than MinSecretBytes: Scrub does not look for
// them, so the hub warns about each.
func ShortSecrets(dst any) []string {
	var out []string
	walk(reflect.ValueOf(dst), nil, func(f leaf) {
		if !f.secret {
			return
		}
		var ss []Secret
		switch v := f.v.Interface().(type) {
		case Secret:
			ss = []Secret{v}
		case []Secret:
			ss = v
		}
		for _, s := range ss {
			if s.IsSet() && len(s.Value()) < MinSecretBytes {
				out = append(out, f.path)
				return
			}
		}
	})
	return out
}
