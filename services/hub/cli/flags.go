package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flags is one command's flag set with the conventions every hub command
// follows: -h or --help prints the usage on stdout and exits 0; a wrong
// flag or argument prints the problem and the usage on stderr and exits 2;
// flags may come after positional arguments (`hub dlq show 7 --json`).
type flags struct {
	*flag.FlagSet
	synopsis string // "hub replay ROUTE --since DURATION|..."
	stdout   io.Writer
	stderr   io.Writer
}

func newFlags(name, synopsis string, stdout, stderr io.Writer) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), synopsis: synopsis, stdout: stdout, stderr: stderr}
	f.SetOutput(io.Discard) // parse's callers print, to the stream the convention says
	return f
}

// parse parses args and returns the positional ones. When ok is false the
// command must return code: 0 after help, 2 after a bad flag.
func (f *flags) parse(args []string) (pos []string, code int, ok bool) {
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.printUsage(f.stdout)
			return nil, 0, false
		}
		if err != nil {
			return nil, f.fail("%v", err), false
		}
		if f.NArg() == 0 {
			return pos, 0, true
		}
		pos = append(pos, f.Arg(0))
		args = f.Args()[1:]
	}
}

// fail prints a problem with the command's usage on stderr and returns 2.
func (f *flags) fail(format string, a ...any) int {
	fmt.Fprintf(f.stderr, "%s: %s\n\n", f.Name(), fmt.Sprintf(format, a...))
	f.printUsage(f.stderr)
	return 2
}

func (f *flags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n", f.synopsis)
	var b strings.Builder
	f.SetOutput(&b)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", b.String())
	}
}

// isHelp says whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// subcommand takes the subcommand of a command that has them (hub dlq,
// hub jobs, hub config): with none, the usage goes to stderr (exit 2);
// with -h, --help or help, to stdout (exit 0).
func subcommand(name, synopsis string, args []string, stdout, stderr io.Writer) (sub string, code int, ok bool) {
	switch {
	case len(args) == 0:
		fmt.Fprintf(stderr, "%s: want a subcommand\n\nUsage: %s\n", name, synopsis)
		return "", 2, false
	case isHelp(args[0]):
		fmt.Fprintf(stdout, "Usage: %s\n", synopsis)
		return "", 0, false
	}
	return args[0], 0, true
}
