// Command hub is Pulse Hub's one binary: `hub run [--only ...]` runs any
// set of the services (all four on an embedded NATS JetStream by default,
// or against an external server or cluster), `hub config` checks the
// config, and the operator commands inspect and repair what is stored.
// SIGINT and SIGTERM stop it gracefully; it exits 1 when it stopped
// because something failed (see services/hub/root).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/insightpulse/pulsehub/services/hub/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
