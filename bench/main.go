// Command bench measures every performance claim of Pulse Hub side by
// side in one run on one machine, as ratios against the physical limit
// (raw JetStream, a plain HTTP client loop) and against what users would
// pick instead (Odoo's own batched ceiling, queue_job's published 155
// jobs/s). Absolute numbers on shared machines mean little; the ratios
// within one run are the point. Run it from the repository root:
//
//	go run ./bench [--quick] [--scale N,N] [--million] [--only N,N] [--rounds N] [--peer-jobs N] [--json]
//
// Scenarios: (1) signed GitHub deliveries into the ingester vs raw
// JetStream publishes; (2) the Odoo writer vs Odoo's own ceiling (one
// create with a list) and one call per record, on a fake costing what a
// real Odoo 19 does, with the records/s curve by batch size;
// (3) the dispatcher vs a plain HTTP client loop, and with a failing
// second service; (4) end-to-end latency webhook → Odoo; (5) RSS of `hub
// run` idle and after scenario 1; (6) the scale curve of (1) and (3); (7)
// what each embedded.sync_interval (2m, 1s, always) costs (1) and (3);
// (8) what tracing costs (1) and (3): off, sampling 1.0, the default
// sampler.
// (9) the dispatcher vs River on PostgreSQL, the same jobs.
// (10) the ingester against a Benthos peer (`hub run --only ingester` and
// Benthos's http_server with a synchronous JetStream output, each its own
// process, alternating rounds of signed deliveries at concurrency 64).
// (11) a 1,000-node fan-out/fan-in job graph vs as many independent jobs.
// Each scenario is also a Go benchmark in its service's module.
//
// It is a module of its own so that the scenario packages and the test
// helpers they use (odootest, natstest) stay out of the hub binary.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

const usage = `bench — every Pulse Hub performance scenario in one run (docs/performance.md)

Usage:
  go run ./bench [--quick] [--scale N,N] [--million] [--only N,N] [--rounds N] [--peer-jobs N] [--json]

Progress goes to stderr, the report (Markdown, or JSON with --json) to stdout.

Flags:
`

// hubPackage is built for scenarios 5 and 10, which run `hub run` as its own process.
const hubPackage = "github.com/insightpulse/pulsehub/services/hub"

func main() {
	runChildIfAsked()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command line: it returns the exit status (0 done, 1 a
// scenario failed, 2 bad usage; -h prints the usage on stdout).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var flagOut bytes.Buffer
	fs.SetOutput(&flagOut)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	quick := fs.Bool("quick", false, "tiny sizes: a smoke test in under a minute")
	million := fs.Bool("million", false, "add 1,000,000 events to the scale curve (takes long)")
	scale := fs.String("scale", "10000,100000", "scale-curve sizes, comma-separated")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of Markdown")
	only := fs.String("only", "", "run only these scenarios, by number (e.g. 1,7); default all")
	rounds := fs.Int("rounds", 0, "rounds of scenarios 7 (durability), 8 (tracing), 9 (jobs vs River), 10 (ingest vs Benthos) and 11 (job graph: flat and graph alternating), each setting or peer once per round; default 3 (1 with --quick)")
	hubProfile := fs.String("hub-cpuprofile", "", "write the CPU profile (pprof) of the dispatcher's last round of scenario 9 to this file")
	peerJobs := fs.Int("peer-jobs", 0, "jobs per peer round in scenario 9 (jobs vs River); default 20000 (300 with --quick)")
	peerDuration := fs.Duration("peer-duration", 0, "length of each measured round of scenario 10; default 60s (2s with --quick)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = flagOut.WriteTo(stdout)
			return 0
		}
		_, _ = flagOut.WriteTo(stderr)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n\n", fs.Arg(0))
		fs.SetOutput(stderr)
		fs.Usage()
		return 2
	}
	o := Options{}
	if *quick {
		o = Quick()
	} else {
		for _, s := range strings.Split(*scale, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				fmt.Fprintf(stderr, "bench: --scale %q: want positive numbers\n", *scale)
				return 2
			}
			o.Scale = append(o.Scale, n)
		}
	}
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 || n > len(scenarios) {
				fmt.Fprintf(stderr, "bench: --only %q: want scenario numbers 1 to %d\n", *only, len(scenarios))
				return 2
			}
			o.Only = append(o.Only, n)
		}
	}
	if *rounds < 0 {
		fmt.Fprintf(stderr, "bench: --rounds %d: want a positive number\n", *rounds)
		return 2
	}
	if *rounds > 0 {
		o.Rounds = *rounds
	}
	if *peerJobs < 0 {
		fmt.Fprintf(stderr, "bench: --peer-jobs %d: want a positive number\n", *peerJobs)
		return 2
	}
	if *peerJobs > 0 {
		o.PeerJobs = *peerJobs
	}
	o.HubProfile = *hubProfile
	if *peerDuration > 0 {
		o.PeerDuration = *peerDuration
	}
	if *million {
		o.Scale = append(o.Scale, 1_000_000)
	}
	o.Log = stderr
	if len(o.Only) == 0 || slices.Contains(o.Only, 5) || slices.Contains(o.Only, 10) {
		hub, cleanup, err := buildHub(ctx, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer cleanup()
		o.HubBinary = hub
	}
	r, err := Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintln(stdout, r.Markdown())
	return 0
}

// buildHub compiles the hub binary into a temporary directory for scenario
// 5. With no go tool it returns "" (the scenario is skipped); cleanup
// removes the directory.
func buildHub(ctx context.Context, log io.Writer) (bin string, cleanup func(), err error) {
	goTool := goTool()
	if goTool == "" {
		fmt.Fprintln(log, "no go tool found: scenario 5 (memory of hub run) will be skipped, scenario 10 runs the hub from this program")
		return "", func() {}, nil
	}
	dir, err := os.MkdirTemp("", "hubbench-bin")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "hub")
	fmt.Fprintf(log, "building %s for scenarios 5 and 10 ...\n", hubPackage)
	if out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, hubPackage).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build %s (run from the repository root): %v\n%s", hubPackage, err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// goTool is the go command of the toolchain that built this program, else
// the one on PATH, else "".
func goTool() string {
	if root := runtime.GOROOT(); root != "" {
		if p, err := exec.LookPath(filepath.Join(root, "bin", "go")); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath("go")
	return p
}
