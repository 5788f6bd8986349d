// Package embedded runs the nats-server (with JetStream on a file store)
// inside the hub's process, so `hub run` needs no external NATS: clients
// connect to 127.0.0.1:4222 with the nkeys the hub generates into the data
// directory on first start (one user per service and an operator, with the
// permissions of events/natsauth; the NATS CLI with
// `--context <data_dir>/nats-context.json`), monitoring answers on
// 127.0.0.1:8222.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/nats-io/nats-server/v2/server"
)

// Config is the `embedded:` section: the NATS server `hub run` starts when
// nats.url is empty.
type Config struct {
	Listen     string `yaml:"listen"`      // client port; default 127.0.0.1:4222
	Monitor    string `yaml:"monitor"`     // HTTP monitoring (/varz, /jsz); default 127.0.0.1:8222; "off" disables
	DataDir    string `yaml:"data_dir"`    // JetStream file store lives in <data_dir>/jetstream; default ./data
	ServerName string `yaml:"server_name"` // shown by `nats server ls`; default pulsehub
	// how often JetStream fsyncs the file store: "always" (before each acknowledgement, so an acknowledged
	// event survives a power loss; ingest runs at about a fifth of the speed) or a duration of at least 1ms
	// (events acknowledged in the last interval may be lost on a power loss, never on a process crash);
	// see README "Durability"
	Sync       string `yaml:"sync_interval"`
	MaxPayload int32  `yaml:"max_payload"` // largest message in bytes; default 32 MiB (GitHub deliveries reach 25 MiB)
	ConfigFile string `yaml:"config_file"` // optional nats-server config file for what the fields above do not cover (TLS, leaf nodes; its own authorization only with auth none); the fields above still win
	Auth       string `yaml:"auth"`        // "nkeys" (default): clients need the nkeys generated into <data_dir>/credentials on first start, each service its own with only the permissions it needs, "operator" for people; "none": anyone who reaches the port may do anything
}

// DefaultConfig is the quick start's: loopback ports, the store under
// ./data, and a payload limit that takes GitHub's largest deliveries.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:4222", Monitor: "127.0.0.1:8222", DataDir: "./data", ServerName: "pulsehub", MaxPayload: 32 << 20,
		Sync: DefaultSyncInterval, Auth: AuthNkeys}
}

// Validate reports every problem under path.
func (c Config) Validate(path string) config.Problems {
	var ps config.Problems
	if _, _, err := splitHostPort(c.Listen); err != nil {
		ps.Add(path+".listen", "%v", err)
	}
	if c.Monitor != "off" && c.Monitor != "" {
		if _, _, err := splitHostPort(c.Monitor); err != nil {
			ps.Add(path+".monitor", "%v", err)
		}
	}
	if c.DataDir == "" {
		ps.Add(path+".data_dir", "is required")
	}
	if c.MaxPayload < 0 || c.MaxPayload > 64<<20 {
		ps.Add(path+".max_payload", "must be between 1 and 64 MiB")
	}
	if c.Auth != AuthNkeys && c.Auth != AuthNone {
		ps.Add(path+".auth", "%q is not nkeys or none", c.Auth)
	}
	if _, _, err := parseSync(c.Sync); err != nil {
		ps.Add(path+".sync_interval", "%v", err)
	}
	return ps
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("want host:port, got %q", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return h, port, nil
}

// Options builds the nats-server options for c.
func (c Config) Options() (*server.Options, error) {
	opts := &server.Options{}
	if c.ConfigFile != "" {
		o, err := server.ProcessConfigFile(c.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("embedded nats config %s: %w", c.ConfigFile, err)
		}
		opts = o
	}
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return nil, err
	}
	opts.Host, opts.Port = host, port
	opts.HTTPPort = -1 // none unless asked for below; 0 would mean the default port
	if c.Monitor != "" && c.Monitor != "off" {
		mh, mp, err := splitHostPort(c.Monitor)
		if err != nil {
			return nil, err
		}
		opts.HTTPHost, opts.HTTPPort = mh, mp
	}
	opts.ServerName = c.ServerName
	opts.JetStream = true
	opts.StoreDir = filepath.Join(c.DataDir, "jetstream")
	if c.MaxPayload > 0 {
		opts.MaxPayload = c.MaxPayload
	}
	if err := applySync(opts, c.Sync); err != nil {
		return nil, err
	}
	opts.NoSigs = true // the hub handles signals and shuts the server down itself
	return opts, nil
}

// readyTimeout bounds the wait for a server that neither fails nor gets
// ready (a slow disk recovering a large store).
const readyTimeout = 60 * time.Second

// Start starts the server and waits until it accepts clients and JetStream
// is ready. Unless c.Auth is none, the server requires the nkeys of
// EnsureCredentials (generated on first start), each user with its
// natsauth permissions. It fails at once when the server reports a fatal error (the
// client or monitoring port taken), and returns ctx's error as soon as ctx
// is done (a SIGTERM during start). The caller stops it with Shutdown.
func Start(ctx context.Context, c Config, logger server.Logger) (*server.Server, error) {
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	if c.RequiresAuth() {
		creds, _, err := EnsureCredentials(c)
		if err != nil {
			return nil, err
		}
		if err := requireAuth(opts, creds); err != nil {
			return nil, err
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if logger == nil {
		logger = SlogLogger{L: slog.New(slog.DiscardHandler)}
	}
	fatal := &fatalCatcher{Logger: logger, fatal: make(chan string, 1)}
	s.SetLoggerV2(fatal, false, false, false)
	s.Start()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	for !s.ReadyForConnections(50 * time.Millisecond) {
		select {
		case msg := <-fatal.fatal:
			Shutdown(s)
			return nil, fmt.Errorf("embedded nats: %s", msg)
		case <-ctx.Done():
			Shutdown(s)
			return nil, ctx.Err()
		case <-deadline.C:
			Shutdown(s)
			return nil, fmt.Errorf("embedded nats: not ready for connections within %s", readyTimeout)
		default:
		}
	}
	if !s.JetStreamEnabled() {
		Shutdown(s)
		return nil, errors.New("embedded nats: JetStream did not start (is the data directory writable?)")
	}
	return s, nil
}

// fatalCatcher passes every line on to Logger and hands the first fatal
// error to Start, which stops waiting for a server that will not come up.
type fatalCatcher struct {
	server.Logger
	fatal chan string
}

func (f *fatalCatcher) Fatalf(format string, v ...any) {
	f.Logger.Fatalf(format, v...)
	select {
	case f.fatal <- fmt.Sprintf(format, v...):
	default:
	}
}

// Shutdown stops the server and waits for it.
func Shutdown(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}
