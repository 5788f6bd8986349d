package playground

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/insightpulse/pulsehub/odoo"
)

// WaitReady asks Odoo every interval whether base_automation is installed,
// until it is or ctx ends. A fresh playground Odoo spends its first
// minutes creating its database and installing the modules, and answers
// with faults of every kind meanwhile (refused, no database, access
// denied before the admin user exists), so no error is final before ctx
// ends.
func WaitReady(ctx context.Context, c *odoo.Client, every time.Duration, log *slog.Logger) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var last error // the last answer not cut short by ctx
	for {
		err := requireModule(ctx, c, "base_automation")
		if err == nil {
			return nil
		}
		if ctx.Err() == nil {
			last = err
			log.Info("odoo not ready yet", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("odoo not ready: %w (last answer: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}
