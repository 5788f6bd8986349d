package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/insightpulse/pulsehub/services/hub/bench"
)

// benchCmd is `hub bench`: every scenario in one run, one table each.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hub bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "tiny sizes: a smoke test in under a minute")
	million := fs.Bool("million", false, "add 1,000,000 events to the scale curve (takes long)")
	scale := fs.String("scale", "10000,100000", "scale-curve sizes, comma-separated")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of Markdown")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o := bench.Options{}
	if *quick {
		o = bench.Quick()
	} else {
		for _, s := range strings.Split(*scale, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				fmt.Fprintf(stderr, "hub bench: --scale %q: want positive numbers\n", *scale)
				return 2
			}
			o.Scale = append(o.Scale, n)
		}
	}
	if *million {
		o.Scale = append(o.Scale, 1_000_000)
	}
	if exe, err := os.Executable(); err == nil {
		o.HubBinary = exe
	}
	o.Log = stderr
	r, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "hub bench: %v\n", err)
		return 1
	}
	if *asJSON {
		return exitOf(printJSON(stdout, r))
	}
	fmt.Fprintln(stdout, r.Markdown())
	return 0
}

func exitOf(err error) int {
	if err != nil {
		return 1
	}
	return 0
}
