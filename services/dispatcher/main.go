// Command dispatcher runs Pulse Hub's dispatcher on its own, against an external NATS
// (nats.url in hub.yaml or PULSEHUB_NATS_URL), for deployments that scale
// the services apart. `hub run` runs the same code in one process.
package main

import (
	"context"
	"os"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch"
)

func main() {
	f := dispatch.DefaultFile()
	os.Exit(service.Main("dispatcher", f, func(ctx context.Context, deps service.Deps) error {
		return dispatch.Run(ctx, deps, f.Config())
	}))
}
