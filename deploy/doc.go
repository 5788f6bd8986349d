// Package deploy holds Pulse Hub's deployment files — the NATS cluster
// configuration, the container build, docker-compose and Kubernetes
// manifests — and the tests that check them without a container engine or
// a cluster, with the libraries the tools themselves use: docker-compose.yml
// loaded by compose-go (docker compose's loader), deploy/k8s built by
// kustomize's library and decoded strictly with client-go's scheme, every
// pod checked by the Pod Security admission library at level restricted;
// every reference resolved against the code (build targets, `hub run
// --only` commands, ports, environment variables and secret files derived
// from the hub's config and validated per service); the NATS configuration
// loaded by nats-server's own parser and run as a real three-node cluster;
// the build script's hub binary checked to be static and stamped.
//
// Sub-packages: playground installs the compose playground's example Odoo
// automation rule (command cmd/playground), playground/playgroundtest is
// the fake Odoo its tests run against. See README.md.
package deploy
