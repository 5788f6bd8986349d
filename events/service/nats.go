package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSConfig is the `nats:` section: how a service reaches NATS.
type NATSConfig struct {
	URL            string        `yaml:"url"`             // comma-separated server URLs; empty in `hub run` means the embedded server
	CredsFile      string        `yaml:"creds_file"`      // a NATS .creds file (JWT + seed)
	NKeyFile       string        `yaml:"nkey_file"`       // a file holding an NKey seed
	User           string        `yaml:"user"`            // user for user/password auth
	Password       config.Secret `yaml:"password"`        // password for user/password auth
	Token          config.Secret `yaml:"token"`           // token auth
	CAFile         string        `yaml:"ca_file"`         // CA to verify the servers' TLS certificates
	CertFile       string        `yaml:"cert_file"`       // client certificate for mutual TLS
	KeyFile        string        `yaml:"key_file"`        // client key for mutual TLS
	ConnectTimeout time.Duration `yaml:"connect_timeout"` // per attempt (default 5s)
	RequestTimeout time.Duration `yaml:"request_timeout"` // JetStream API calls and publish acks (default 5s)
}

// Validate reports every problem under path.
func (c NATSConfig) Validate(path string, required bool) config.Problems {
	var ps config.Problems
	if required && c.URL == "" {
		ps.Add(path+".url", "is required (e.g. nats://127.0.0.1:4222, or a comma-separated cluster list)")
	}
	for _, u := range splitURLs(c.URL) {
		if !strings.Contains(u, "://") {
			ps.Add(path+".url", "%q needs a scheme (nats://, tls://, ws://)", u)
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		ps.Add(path+".cert_file", "cert_file and key_file go together")
	}
	if c.Password.IsSet() && c.User == "" {
		ps.Add(path+".user", "a password needs a user")
	}
	return ps
}

func splitURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Connect opens a NATS connection that keeps reconnecting forever (a
// service outlives a NATS restart; its /health says when it is cut off)
// and the JetStream context on it. The first connection is retried in the
// background too: a service may start before its NATS server.
func Connect(ctx context.Context, c NATSConfig, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	return connect(c, name, log, true)
}

// Dial is Connect for command-line tools: it fails at once when no server
// answers instead of retrying in the background.
func Dial(c NATSConfig, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	return connect(c, name, log, false)
}

func connect(c NATSConfig, name string, log *slog.Logger, retryFirst bool) (*nats.Conn, jetstream.JetStream, error) {
	if c.URL == "" {
		return nil, nil, errors.New("nats: no server URL")
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(retryFirst),
		// A publish while disconnected fails at once instead of waiting in
		// a client buffer: the ingester answers 503 rather than 2xx for an
		// event that is not stored yet.
		nats.ReconnectBufSize(-1),
		nats.Timeout(orDefault(c.ConnectTimeout, 5*time.Second)),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "error", fmt.Sprint(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats async error", "error", err.Error())
		}),
	}
	auth, err := authOptions(c)
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(strings.Join(splitURLs(c.URL), ","), append(opts, auth...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("nats: connect: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(orDefault(c.RequestTimeout, 5*time.Second)))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	return nc, js, nil
}

func authOptions(c NATSConfig) ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	case c.NKeyFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats: nkey: %w", err)
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password.Value()))
	case c.Token.IsSet():
		opts = append(opts, nats.Token(c.Token.Value()))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	if c.CAFile != "" || c.CertFile != "" {
		opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	return opts, nil
}

// CheckJetStream is a /health check: connected to NATS and JetStream
// answering its account info.
func CheckJetStream(nc *nats.Conn, js jetstream.JetStream) func(context.Context) error {
	return func(ctx context.Context) error {
		if nc == nil || !nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		if _, err := js.AccountInfo(ctx); err != nil {
			return fmt.Errorf("jetstream: %w", err)
		}
		return nil
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
