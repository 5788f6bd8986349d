// Command healthmon runs Pulse Hub's health monitor on its own, against an
// external NATS (nats.url in hub.yaml or PULSEHUB_NATS_URL), for
// deployments that scale the services apart. `hub run` runs the same code
// in one process.
//
// Besides its own healthmon: section it reads the hub's odoo: instances
// (probed as odoo-<name>) and, for each of the ingester, odoowriter and
// dispatcher sections present in the file, that service's listen address
// (probed as service-<name>, with the dispatcher's breakers and the
// ingester's GitHub reconciler): see monitor.File.
package main

import (
	"context"
	"os"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/healthmon/monitor"
)

func main() {
	f := monitor.DefaultFile()
	os.Exit(service.Main("healthmon", f, func(ctx context.Context, deps service.Deps) error {
		return monitor.Run(ctx, deps, f.Config())
	}))
}
