// Command natssecrets makes what the NATS cluster of docker-compose.yml and
// the Helm values need and no repository may hold: a development CA and the
// nodes' TLS certificate, and one nkey per user (package natssecrets). It
// keeps what exists, writes what is missing under -dir, and sets the NATS_*
// variables of -env (.env) that compose hands to the nodes (the users'
// public keys); compose gives each service its own seed file as a secret.
//
//	go run ./deploy/cmd/natssecrets                      # deploy/secrets and .env, from the repository root
//	go run ./deploy/cmd/natssecrets -rotate ingester,tls # new ingester nkey, new server and client certificates
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/insightpulse/pulsehub/deploy/natssecrets"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("natssecrets", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "deploy/secrets", "where the files go (git-ignored)")
	env := fs.String("env", ".env", `dotenv file whose NATS_* variables are set ("" leaves it alone)`)
	hosts := fs.String("hosts", strings.Join(natssecrets.DefaultHosts, ","), "names and addresses of the server certificate")
	rotate := fs.String("rotate", "", "comma-separated users whose nkeys to replace, and/or tls to replace the server and client certificates")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "natssecrets: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	o := natssecrets.Options{Dir: *dir, Hosts: split(*hosts), Rotate: split(*rotate)}
	res, err := natssecrets.Generate(o)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, f := range res.Created {
		fmt.Fprintln(stdout, "wrote", f)
	}
	if len(res.Created) == 0 {
		fmt.Fprintln(stdout, "nothing to make: every file exists under", *dir)
	}
	if *env != "" {
		if err := natssecrets.UpdateEnvFile(*env, res.EnvVars()); err != nil {
			fmt.Fprintln(stderr, "natssecrets:", err)
			return 1
		}
		fmt.Fprintf(stdout, "set the NATS_*_NKEY variables of %s (the nodes: public keys; each service gets its seed file as a compose secret)\n", *env)
	}
	fmt.Fprintf(stdout, "operator: nats --server <url> --tlsca %s --nkey %s stream ls\n",
		natssecrets.CAFile(*dir), natssecrets.SeedFile(*dir, "operator"))
	return 0
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
