package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// opsFlags are the flags every operator command shares.
type opsFlags struct {
	*flags
	config  *string
	natsURL *string
	dataDir *string
	json    *bool
}

func newOpsFlags(name, synopsis string, stdout, stderr io.Writer) *opsFlags {
	f := newFlags(name, synopsis, stdout, stderr)
	return &opsFlags{flags: f,
		config:  f.String("config", "", "config file (default hub.yaml if present); gives the NATS URL, credentials and service addresses"),
		natsURL: f.String("nats-url", "", "NATS server or cluster (default: nats.url from the config, else the embedded server's address)"),
		dataDir: f.String("data-dir", "", "data directory of the embedded server whose operator credentials to use (default embedded.data_dir, ./data)"),
		json:    f.Bool("json", false, "print JSON for scripts instead of a table"),
	}
}

// connect loads the config and dials NATS, failing fast with advice. With
// no credentials in the config, it authenticates as the embedded server's
// operator when it finds that user's seed in the data directory (the
// embedded server's, or --data-dir's).
func (o *opsFlags) connect() (hubconfig.Config, *nats.Conn, jetstream.JetStream, error) {
	c, _, err := hubconfig.LoadForOps(*o.config, func(c *hubconfig.Config) {
		if *o.natsURL != "" {
			c.NATS.URL = *o.natsURL
		}
		if *o.dataDir != "" {
			c.Embedded.DataDir = *o.dataDir
		}
	})
	if err != nil {
		return c, nil, nil, fmt.Errorf("config: %w", err)
	}
	embeddedServer := c.NATS.URL == ""
	if embeddedServer {
		c.NATS.URL = "nats://" + c.Embedded.Listen
	}
	hint := ""
	if !c.NATS.HasCredentials() && (embeddedServer || *o.dataDir != "") && c.Embedded.RequiresAuth() {
		file := c.Embedded.SeedFile(natsauth.Operator)
		seed, err := c.Embedded.LoadSeed(natsauth.Operator)
		switch {
		case err == nil:
			c.NATS.NKeySeed = config.NewSecret(seed)
		case errors.Is(err, fs.ErrNotExist):
			hint = fmt.Sprintf("\nNo operator credentials at %s: run this where `hub run` keeps its data, or pass --data-dir", file)
		default:
			return c, nil, nil, fmt.Errorf("operator credentials: %w", err)
		}
	}
	nc, js, err := service.Dial(c.NATS, "pulsehub-cli")
	if err != nil {
		return c, nil, nil, fmt.Errorf("cannot reach NATS at %s: %w\nIs the hub running (hub run)? Otherwise pass --nats-url or set nats.url / PULSEHUB_NATS_URL, and credentials (nats.nkey_seed, nats.creds_file, ...)%s", c.NATS.URL, err, hint)
	}
	return c, nc, js, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// opsCmd runs an operator command with a connection and a deadline.
func opsCmd(ctx context.Context, o *opsFlags, stderr io.Writer, fn func(context.Context, hubconfig.Config, jetstream.JetStream) error) int {
	c, nc, js, err := o.connect()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", o.Name(), err)
		return 1
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := fn(ctx, c, js); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", o.Name(), err)
		return 1
	}
	return 0
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanTime(t time.Time) string {
	if t.IsZero() || t.Year() < 2000 {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
