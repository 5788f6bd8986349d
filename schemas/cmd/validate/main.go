// Command validate checks JSON documents against a Pulse Hub schema, for
// operators and for the shell:
//
//	nats kv get jobs <id> --raw | go run ./schemas/cmd/validate job-state
//	go run ./schemas/cmd/validate odoo-cmd cmd1.json cmd2.json
//	go run ./schemas/cmd/validate -list
//
// It exits 0 when every document is valid, 1 when one is not, 2 on misuse.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/insightpulse/pulsehub/schemas"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	list := fs.Bool("list", false, "list the schema names")
	show := fs.Bool("print", false, "print the named schema instead of validating")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: validate [-list] [-print] <schema> [file ...]  (no file or -: standard input)\nschemas: %s\n", strings.Join(schemas.Names(), ", "))
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *list {
		fmt.Fprintln(stdout, strings.Join(schemas.Names(), "\n"))
		return 0
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 2
	}
	name, files := fs.Arg(0), fs.Args()[1:]
	if *show {
		b, ok := schemas.Schema(name)
		if !ok {
			fmt.Fprintf(stderr, "no schema %q\n", name)
			return 2
		}
		stdout.Write(b)
		return 0
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	code := 0
	for _, f := range files {
		doc, err := readDoc(f, stdin)
		if err == nil {
			err = schemas.Validate(name, doc)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: valid %s\n", f, name)
	}
	return code
}

func readDoc(file string, stdin io.Reader) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(file)
}
