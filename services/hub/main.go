// Command hub runs Pulse Hub in one process on an embedded NATS JetStream
// (`hub run`), checks its config, and carries the operator commands.
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
