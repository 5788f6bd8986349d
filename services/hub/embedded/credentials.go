package embedded

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// The values of embedded.auth.
const (
	AuthNkeys = "nkeys" // the default: every client needs one of the generated nkeys
	AuthNone  = "none"  // anyone who reaches the port may do anything
)

// Credentials are the nkey seeds of the embedded server's users
// (natsauth.Users), by user name.
type Credentials map[string]string

// CredentialsDir is where `hub run` keeps the seeds: <data_dir>/credentials.
func (c Config) CredentialsDir() string { return filepath.Join(c.DataDir, "credentials") }

// SeedFile is the file holding user's nkey seed: <data_dir>/credentials/<user>.nk.
func (c Config) SeedFile(user string) string { return filepath.Join(c.CredentialsDir(), user+".nk") }

// ContextFile is the NATS CLI context of the operator user:
// `nats --context <data_dir>/nats-context.json stream ls`.
func (c Config) ContextFile() string { return filepath.Join(c.DataDir, "nats-context.json") }

// RequiresAuth reports whether the embedded server requires credentials.
func (c Config) RequiresAuth() bool { return c.Auth != AuthNone }

// EnsureCredentials returns the seeds kept in the data directory, creating
// the ones missing (each file 0600 in a 0700 directory) and listing those
// it created. With auth none it returns nil.
func EnsureCredentials(c Config) (creds Credentials, created []string, err error) {
	if !c.RequiresAuth() {
		return nil, nil, nil
	}
	if err := os.MkdirAll(c.CredentialsDir(), 0o700); err != nil {
		return nil, nil, fmt.Errorf("embedded nats: credentials: %w", err)
	}
	if err := os.Chmod(c.CredentialsDir(), 0o700); err != nil {
		return nil, nil, fmt.Errorf("embedded nats: credentials: %w", err)
	}
	creds = Credentials{}
	for _, u := range natsauth.Users() {
		seed, err := readSeed(c.SeedFile(u))
		if errors.Is(err, fs.ErrNotExist) {
			if seed, err = newSeed(c.SeedFile(u)); err == nil {
				created = append(created, u)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("embedded nats: credentials of %s: %w", u, err)
		}
		creds[u] = seed
	}
	return creds, created, nil
}

// LoadSeed reads user's seed from the data directory (for the operator
// commands).
func (c Config) LoadSeed(user string) (string, error) { return readSeed(c.SeedFile(user)) }

func readSeed(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	seed := strings.TrimSpace(string(b))
	if _, err := nkeys.FromSeed([]byte(seed)); err != nil {
		return "", fmt.Errorf("%s holds no nkey seed (delete it to have a new one generated)", file)
	}
	if fi, err := os.Stat(file); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(file, 0o600); err != nil {
			return "", err
		}
	}
	return seed, nil
}

func newSeed(file string) (string, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", err
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(append(seed, '\n')); err != nil {
		f.Close()
		return "", err
	}
	return string(seed), f.Close()
}

// Public returns every user's public nkey.
func (cr Credentials) Public() (map[string]string, error) {
	out := map[string]string{}
	for u, seed := range cr {
		kp, err := nkeys.FromSeed([]byte(seed))
		if err != nil {
			return nil, fmt.Errorf("nkey of %s: %w", u, err)
		}
		if out[u], err = kp.PublicKey(); err != nil {
			return nil, fmt.Errorf("nkey of %s: %w", u, err)
		}
	}
	return out, nil
}

// For returns base (the `nats:` section) authenticating as user with its
// seed instead of whatever credentials base names.
func (cr Credentials) For(user string, base service.NATSConfig) service.NATSConfig {
	n := base
	n.CredsFile, n.NKeyFile, n.User, n.Password, n.Token = "", "", "", config.Secret{}, config.Secret{}
	n.NKeySeed = config.NewSecret(cr[user])
	return n
}

// requireAuth makes opts require the users' nkeys, each with its natsauth
// permissions.
func requireAuth(opts *server.Options, cr Credentials) error {
	if opts.Username != "" || opts.Authorization != "" || len(opts.Users) > 0 || len(opts.Nkeys) > 0 ||
		len(opts.Accounts) > 0 || len(opts.TrustedOperators) > 0 {
		return errors.New("embedded nats: embedded.config_file sets its own authorization; " +
			"set embedded.auth: none to use it (and give the hub its credentials in nats:)")
	}
	public, err := cr.Public()
	if err != nil {
		return fmt.Errorf("embedded nats: %w", err)
	}
	users, err := natsauth.NkeyUsers(public)
	if err != nil {
		return fmt.Errorf("embedded nats: %w", err)
	}
	opts.Nkeys = users
	return nil
}

// natsContext is the part of a NATS CLI context file (natscli's
// natscontext) the hub writes.
type natsContext struct {
	Description string `json:"description"`
	URL         string `json:"url"`
	NKey        string `json:"nkey"`
}

// WriteContext writes the operator's NATS CLI context for the server at url
// (0600), so `nats --context <ContextFile()> ...` connects as the operator.
func WriteContext(c Config, url string) error {
	seed, err := filepath.Abs(c.SeedFile(natsauth.Operator))
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(natsContext{Description: "Pulse Hub's embedded NATS, as its operator user", URL: url, NKey: seed}, "", "  ")
	if err != nil {
		return err
	}
	tmp := c.ContextFile() + ".tmp"
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("nats context: %w", err)
	}
	if err := os.Rename(tmp, c.ContextFile()); err != nil {
		return fmt.Errorf("nats context: %w", err)
	}
	return nil
}
