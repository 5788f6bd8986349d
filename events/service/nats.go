package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
)

// NATSConfig is the `nats:` section: how a service reaches NATS.
type NATSConfig struct {
	URL            string        `yaml:"url"`             // comma-separated server URLs; empty in `hub run` means the embedded server
	CredsFile      string        `yaml:"creds_file"`      // a NATS .creds file (JWT + seed)
	NKeyFile       string        `yaml:"nkey_file"`       // a file holding an NKey seed
	NKeySeed       config.Secret `yaml:"nkey_seed"`       // an NKey seed itself (SU...), for secrets handed over as environment variables
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
	if kinds := c.credentialKinds(); len(kinds) > 1 {
		ps.Add(path, "give one kind of credentials, not %s", strings.Join(kinds, " and "))
	}
	if c.NKeySeed.IsSet() {
		if _, err := nkeys.FromSeed([]byte(strings.TrimSpace(c.NKeySeed.Value()))); err != nil {
			ps.Add(path+".nkey_seed", "is not an NKey seed (SU...)")
		}
	}
	return ps
}

// HasCredentials reports whether c says how to authenticate.
func (c NATSConfig) HasCredentials() bool { return len(c.credentialKinds()) > 0 }

func (c NATSConfig) credentialKinds() []string {
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"creds_file", c.CredsFile != ""}, {"nkey_file", c.NKeyFile != ""}, {"nkey_seed", c.NKeySeed.IsSet()},
		{"user", c.User != ""}, {"token", c.Token.IsSet()}} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	return kinds
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

// ConnOptions say who owns a connection opened with Open.
type ConnOptions struct {
	Name   string       // the client name `nats server report connections` shows
	Logger *slog.Logger // disconnects, reconnects, async errors and the close are logged here
	// InProcess, when set, connects to an embedded server in the same
	// process (no socket); the config's URL is not used.
	InProcess nats.InProcessConnProvider
	// Registry, when set, gets the connection's metrics:
	// pulsehub_nats_connected, pulsehub_nats_disconnects_total,
	// pulsehub_nats_reconnects_total, pulsehub_nats_async_errors_total.
	Registry *prometheus.Registry
	// InboxPrefix, when set, is the prefix of the connection's reply
	// subjects instead of _INBOX (natsauth.InboxPrefix: a service may
	// subscribe only to its own).
	InboxPrefix string
	// OnClosed is called once if the connection closes for good while its
	// owner did not close it (nats.go gave up, the server kicked the client
	// off, an authorization error): the owner decides what that means.
	// The hub's root makes it a fatal error of the process.
	OnClosed func(error)
}

// Conn is a NATS connection and its JetStream context, opened by the
// composition root and handed to one service.
type Conn struct {
	NC      *nats.Conn
	JS      jetstream.JetStream
	closing atomic.Bool
	closed  chan struct{} // closed by the ClosedHandler
}

// Open opens a connection that keeps reconnecting forever (a service
// outlives a NATS restart; its /health says when it is cut off) and the
// JetStream context on it. The first connection is retried in the
// background too: a service may start before its NATS server.
func Open(c NATSConfig, o ConnOptions) (*Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn := &Conn{closed: make(chan struct{})}
	m := newConnMetrics(o.Registry)
	opts := []nats.Option{
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if conn.closing.Load() {
				return // its owner closes it
			}
			m.disconnects.Inc()
			log.Warn("nats disconnected", "connection", o.Name, "error", fmt.Sprint(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			m.reconnects.Inc()
			log.Info("nats reconnected", "connection", o.Name, "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			m.asyncErrors.Inc()
			log.Warn("nats async error", "connection", o.Name, "error", err.Error())
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			defer close(conn.closed)
			if conn.closing.Load() {
				return
			}
			err := nc.LastError()
			if err == nil {
				err = nats.ErrConnectionClosed
			}
			log.Error("nats connection closed for good", "connection", o.Name, "error", err.Error())
			if o.OnClosed != nil {
				o.OnClosed(fmt.Errorf("nats connection %s closed: %w", o.Name, err))
			}
		}),
	}
	var (
		nc  *nats.Conn
		err error
	)
	if o.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	}
	if o.InProcess != nil {
		// No socket, so no TLS; the server still checks the credentials.
		creds, cerr := credentialOptions(c)
		if cerr != nil {
			return nil, cerr
		}
		opts = append(opts, nats.Name(o.Name), nats.InProcessServer(o.InProcess), nats.MaxReconnects(-1))
		nc, err = nats.Connect("", append(opts, creds...)...)
	} else {
		nc, err = dial(c, o.Name, true, opts)
	}
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(orDefault(c.RequestTimeout, 5*time.Second)))
	if err != nil {
		conn.Close()
		nc.Close()
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	conn.NC, conn.JS = nc, js
	m.connected(nc)
	return conn, nil
}

// closeWait bounds how long Close waits for a drain.
const closeWait = 10 * time.Second

// Close drains the connection (pending publishes and acks are flushed),
// closes it and waits until it is closed (at most 10s); OnClosed is not
// called for it.
func (c *Conn) Close() {
	c.closing.Store(true)
	if c.NC == nil {
		return
	}
	if err := c.NC.Drain(); err != nil {
		c.NC.Close()
	}
	select {
	case <-c.closed:
	case <-time.After(closeWait):
		c.NC.Close()
	}
}

// Dial is for command-line tools: it fails at once when no server answers
// instead of retrying in the background.
func Dial(c NATSConfig, name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := dial(c, name, false, nil)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(orDefault(c.RequestTimeout, 5*time.Second)))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	return nc, js, nil
}

func dial(c NATSConfig, name string, retryFirst bool, extra []nats.Option) (*nats.Conn, error) {
	if c.URL == "" {
		return nil, errors.New("nats: no server URL")
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
	}
	auth, err := authOptions(c)
	if err != nil {
		return nil, err
	}
	opts = append(append(opts, extra...), auth...)
	nc, err := nats.Connect(strings.Join(splitURLs(c.URL), ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	return nc, nil
}

func authOptions(c NATSConfig) ([]nats.Option, error) {
	opts, err := credentialOptions(c)
	if err != nil {
		return nil, err
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

// credentialOptions say who the client is: a .creds file, an nkey (file or
// seed), a user and password, or a token.
func credentialOptions(c NATSConfig) ([]nats.Option, error) {
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
	case c.NKeySeed.IsSet():
		o, err := nkeyFromSeed(c.NKeySeed.Value())
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password.Value()))
	case c.Token.IsSet():
		opts = append(opts, nats.Token(c.Token.Value()))
	}
	return opts, nil
}

// nkeyFromSeed signs the server's nonce with seed, kept in memory only.
func nkeyFromSeed(seed string) (nats.Option, error) {
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(seed)))
	if err != nil {
		return nil, errors.New("nats: nkey_seed is not an NKey seed")
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("nats: nkey_seed: %w", err)
	}
	return nats.Nkey(pub, kp.Sign), nil
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

// connMetrics count a connection's life; a nil registry counts nowhere.
type connMetrics struct {
	reg                                  *prometheus.Registry
	disconnects, reconnects, asyncErrors prometheus.Counter
}

func newConnMetrics(reg *prometheus.Registry) *connMetrics {
	m := &connMetrics{
		reg:         reg,
		disconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "pulsehub_nats_disconnects_total", Help: "Times the service's NATS connection was lost."}),
		reconnects:  prometheus.NewCounter(prometheus.CounterOpts{Name: "pulsehub_nats_reconnects_total", Help: "Times the service's NATS connection was re-established."}),
		asyncErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "pulsehub_nats_async_errors_total", Help: "Asynchronous errors the NATS client reported (slow consumer, permissions)."}),
	}
	if reg != nil {
		reg.MustRegister(m.disconnects, m.reconnects, m.asyncErrors)
	}
	return m
}

// connected registers the gauge that reads nc's state at each scrape.
func (m *connMetrics) connected(nc *nats.Conn) {
	if m.reg == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pulsehub_nats_connected",
		Help: "1 while the service's NATS connection is up, 0 while it reconnects or after it closed."}, func() float64 {
		if nc.IsConnected() {
			return 1
		}
		return 0
	}))
}
