// Command ingester runs Pulse Hub's ingester on its own, against an external NATS
// (nats.url in hub.yaml or PULSEHUB_NATS_URL), for deployments that scale
// the services apart. `hub run` runs the same code in one process.
package main

import (
	"context"
	"os"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/ingester/ingester"
)

func main() {
	f := ingester.DefaultFile()
	os.Exit(service.Main("ingester", f, func(ctx context.Context, deps service.Deps) error {
		return ingester.Run(ctx, deps, f.Config())
	}))
}
