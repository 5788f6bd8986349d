package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/insightpulse/pulsehub/services/hub/root"
)

const runSynopsis = "hub run [--config FILE] [--data-dir DIR] [--nats-url URLS] [--only SERVICE,...]"

// runCmd is `hub run`: flags and config, then the composition root.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("hub run", runSynopsis, stdout, stderr)
	cfgPath := f.String("config", "", "config file (default: hub.yaml if present, else built-in defaults)")
	dataDir := f.String("data-dir", "", "JetStream file store directory of the embedded server (default ./data)")
	natsURL := f.String("nats-url", "", "use this NATS server or cluster (comma-separated URLs) instead of the embedded one")
	onlyFlag := f.String("only", "", "run only these services (comma-separated: "+strings.Join(hubconfig.Services(), ", ")+"); default all")
	pos, code, ok := f.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return f.fail("unexpected argument %q", pos[0])
	}
	var only []string // all
	if *onlyFlag != "" {
		var err error
		if only, err = hubconfig.ParseOnly(*onlyFlag); err != nil {
			return f.fail("%v", err)
		}
	}
	c, file, err := hubconfig.LoadFor(*cfgPath, only, func(c *hubconfig.Config) {
		if *dataDir != "" {
			c.Embedded.DataDir = *dataDir
		}
		if *natsURL != "" {
			c.NATS.URL = *natsURL
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "hub run: config %s:\n%v\n", orNone(file), err)
		return 2
	}
	base := service.NewLogger(stdout, c.Log, "")
	if err := root.Run(ctx, root.Options{Config: c, File: file, Only: only, Logger: base}); err != nil {
		base.With("service", "hub").Error("hub stopped with an error", "error", err.Error())
		return 1
	}
	return 0
}

func orNone(file string) string {
	if file == "" {
		return "(none: built-in defaults)"
	}
	return file
}
