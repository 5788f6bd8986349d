// Command playground installs the example automation rule in the compose
// playground's Odoo (docker compose --profile odoo up): every change of
// the source's model is posted to the ingester by a "Send Webhook
// Notification" action. It reads the hub.yaml and the PULSEHUB_* variables
// the ingester reads (the source's token, the Odoo password), waits for
// Odoo to be ready, and exits; run again, it updates the rule in place.
//
//	playground --config /etc/pulsehub/hub.yaml --source partners --ingester-url http://ingester:8080
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/insightpulse/pulsehub/deploy/playground"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("playground", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "hub.yaml", "the hub's config file")
	source := fs.String("source", "partners", "the ingester's Odoo source (ingester.odoo_sources.<name>) the rule posts to")
	ingesterURL := fs.String("ingester-url", "http://ingester:8080", "the ingester's base URL as Odoo reaches it")
	wait := fs.Duration("wait", 10*time.Minute, "how long to wait for Odoo to accept the credentials")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil)).With("service", "playground")
	var f playground.File
	if err := config.Load(*path, &f, config.Options{}); err != nil {
		fmt.Fprintf(stderr, "playground: config:\n%v\n", err)
		return 2
	}
	rule, inst, err := playground.RuleFor(&f, *source, *ingesterURL)
	if err != nil {
		fmt.Fprintf(stderr, "playground: %v\n", err)
		return 2
	}
	c, err := odoo.New(inst, odoo.WithLogger(log))
	if err != nil {
		fmt.Fprintf(stderr, "playground: odoo: %v\n", err)
		return 2
	}
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	if err := playground.WaitReady(wctx, c, 5*time.Second, log); err != nil {
		log.Error("odoo", "error", err.Error())
		return 1
	}
	in, err := playground.Install(ctx, c, rule)
	if err != nil {
		log.Error("install the automation rule", "error", err.Error(), "rule", rule.Name)
		return 1
	}
	// The URL holds the source's token: log where it points, never it.
	log.Info("automation rule ready", "rule", rule.Name, "model", rule.Model, "fields", rule.Fields,
		"posts_to", *ingesterURL+"/odoo/"+*source+"/[token]", "automation_id", in.Automation, "action_id", in.Action, "created", in.Created)
	return 0
}
