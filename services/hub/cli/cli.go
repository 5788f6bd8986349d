// Package cli is the hub binary's command line: `hub run` (any set of the
// services, through the composition root in package root), `hub config
// check|env|defaults`, and the operator commands. `hub COMMAND -h` prints
// a command's usage on stdout and exits 0; a wrong flag exits 2 with the
// usage on stderr.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/service"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"gopkg.in/yaml.v3"
)

const usage = `hub — Pulse Hub, an integration hub for Odoo on NATS JetStream

Usage:
  hub run [--config FILE] [--data-dir DIR] [--nats-url URLS] [--only SERVICE,...]
                           run the services (default all four: ingester, odoowriter, dispatcher,
                           healthmon) on the embedded NATS server, or on NATS at --nats-url
  hub config check [FILE]  validate a config file (default hub.yaml); print every problem with its line
  hub config defaults      print the built-in configuration as YAML
  hub config env           list every PULSEHUB_* environment variable the hub reads
  hub status [--json]      streams, routes (lag, redeliveries, DLQ depth, replays) and services' health
  hub replay ROUTE --since DURATION|--from-time T|--from-seq N [--subject FILTER] [--dry-run]
                           deliver past events again to one route only
  hub dlq ls [--route R] | show SEQ | requeue SEQ|--route R|--all [--dry-run] | purge --route R
                           inspect and act on dead letters
  hub jobs ls [--state S] [--service X] | show ID | requeue ID | enqueue SERVICE TASK JOB_JSON
                           the dispatcher's jobs (queue_job's job list)
  hub healthcheck URL      exit 0 when URL answers 200 (the containers' HEALTHCHECK)
  hub version              print the version

Operator commands take --config FILE, --nats-url URLS, --data-dir DIR and --json. On the embedded
server they authenticate as its operator user with the seed hub run generated in the data
directory (DIR/credentials/operator.nk); elsewhere with the credentials in nats:.

Run 'hub COMMAND -h' for a command's flags (printed on stdout, exit status 0).
`

// Main runs the command in args and returns the process exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "config":
		return configCmd(args[1:], stdout, stderr)
	}
	// The operator commands print what the hub stored (job records, dead
	// letters, health statuses, services' /health): what was stored before
	// secrets were scrubbed on the way in is scrubbed on the way out, for
	// every secret the command's config and environment know.
	stdout, stderr = config.ScrubWriter(stdout), config.ScrubWriter(stderr)
	switch args[0] {
	case "status":
		return statusCmd(ctx, args[1:], stdout, stderr)
	case "replay":
		return replayCmd(ctx, args[1:], stdout, stderr)
	case "dlq":
		return dlqCmd(ctx, args[1:], stdout, stderr)
	case "jobs":
		return jobsCmd(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		return healthcheckCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		return versionCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "hub: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func configCmd(args []string, stdout, stderr io.Writer) int {
	const synopsis = "hub config check [FILE] | defaults | env"
	sub, code, ok := subcommand("hub config", synopsis, args, stdout, stderr)
	if !ok {
		return code
	}
	f := newFlags("hub config "+sub, synopsis, stdout, stderr)
	pos, code, ok := f.parse(args[1:])
	if !ok {
		return code
	}
	switch {
	case sub == "check" && len(pos) <= 1:
		path := hubconfig.DefaultFile
		if len(pos) == 1 {
			path = pos[0]
		}
		if _, err := os.Stat(path); err != nil {
			return f.fail("%v", err)
		}
		c, _, err := hubconfig.Load(path)
		if err != nil {
			fmt.Fprintf(stderr, "%s: invalid:\n%v\n", path, err)
			return 1
		}
		for _, n := range c.Notices {
			fmt.Fprintf(stdout, "%s: warning: %s\n", path, n)
		}
		fmt.Fprintf(stdout, "%s: ok\n", path)
		return 0
	case sub == "defaults" && len(pos) == 0:
		out, err := yaml.Marshal(hubconfig.Default())
		if err != nil {
			fmt.Fprintf(stderr, "hub config defaults: %v\n", err)
			return 1
		}
		_, _ = stdout.Write(out)
		return 0
	case sub == "env" && len(pos) == 0:
		for _, v := range hubconfig.EnvVars() {
			note := ""
			if v.Secret {
				note = "  (secret)"
			}
			fmt.Fprintf(stdout, "%-60s %s%s\n", v.Name, v.Path, note)
		}
		return 0
	}
	return f.fail("unknown subcommand %q or wrong number of arguments", sub)
}

// versionCmd prints the version and commit the binary was built from
// (service.Version and service.Commit, stamped by deploy/build.sh).
func versionCmd(args []string, stdout, stderr io.Writer) int {
	f := newFlags("hub version", "hub version", stdout, stderr)
	pos, code, ok := f.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return f.fail("unexpected argument %q", pos[0])
	}
	commit := service.Commit
	if commit == "" {
		commit = "unknown"
	}
	fmt.Fprintf(stdout, "hub %s (commit %s)\n", service.Version, commit)
	return 0
}
