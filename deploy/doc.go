// Package deploy holds Pulse Hub's deployment files — the NATS cluster
// configuration, the container build, docker-compose and Kubernetes
// manifests — and the tests that check them without a container engine:
// every file is parsed, every reference is resolved against the code
// (build targets, `hub run --only` commands, ports, environment variables
// derived from the hub's config and validated per service), the NATS
// configuration is loaded by nats-server's own parser and run as a real
// three-node cluster, and the build script's hub binary is checked to be
// static.
//
// Sub-packages: playground installs the compose playground's example Odoo
// automation rule (command cmd/playground), playground/playgroundtest is
// the fake Odoo its tests run against. See README.md.
package deploy
