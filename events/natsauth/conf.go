package natsauth

import (
	"fmt"
	"strings"
)

// NkeyVar is the environment variable a NATS server configuration written
// by Conf reads user's public nkey from (NATS_INGESTER_NKEY, ...). Public
// keys are not secrets; the seeds stay with the services.
func NkeyVar(user string) string { return "NATS_" + strings.ToUpper(user) + "_NKEY" }

// SeedVar is the name a deployment keeps user's nkey seed under
// (NATS_INGESTER_SEED, ...): the compose secret and the key of the
// Kubernetes Secret handed to that service alone, read through
// PULSEHUB_NATS_NKEY_SEED_FILE.
func SeedVar(user string) string { return "NATS_" + strings.ToUpper(user) + "_SEED" }

// Conf is the `authorization` block of a nats-server configuration file
// with every user of Users, each identified by the public nkey in its
// NkeyVar and granted its permissions: what deploy/nats/auth.conf holds.
func Conf() string {
	var b strings.Builder
	b.WriteString("# Generated from events/natsauth (go test ./deploy -run TestNATSAuthConf -update): do not edit.\n")
	b.WriteString("# Who may do what on the hub's NATS; deploy/README.md explains each user. The public\n")
	b.WriteString("# nkeys come from the environment (NATS_<USER>_NKEY); the seeds stay with the services.\n")
	b.WriteString("authorization {\n  users: [\n")
	for _, u := range Users() {
		p := MustFor(u)
		fmt.Fprintf(&b, "    # %s\n    {\n      nkey: $%s\n      permissions: {\n", u, NkeyVar(u))
		writeAllow(&b, "publish", p.Publish)
		writeAllow(&b, "subscribe", p.Subscribe)
		b.WriteString("      }\n    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

func writeAllow(b *strings.Builder, what string, subjects []string) {
	fmt.Fprintf(b, "        %s: {allow: [\n", what)
	for _, s := range subjects {
		fmt.Fprintf(b, "          %q\n", s)
	}
	b.WriteString("        ]}\n")
}
