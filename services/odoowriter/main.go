// Command odoowriter runs Pulse Hub's odoowriter on its own, against an external NATS
// (nats.url in hub.yaml or PULSEHUB_NATS_URL), for deployments that scale
// the services apart. `hub run` runs the same code in one process.
package main

import (
	"context"
	"os"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/odoowriter/writer"
)

func main() {
	f := writer.DefaultFile()
	os.Exit(service.Main("odoowriter", f, func(ctx context.Context, deps service.Deps) error {
		return writer.Run(ctx, deps, f.Config())
	}))
}
