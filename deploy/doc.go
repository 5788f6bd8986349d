// Package deploy holds Pulse Hub's deployment files — the NATS cluster
// configuration, the container build, docker-compose and Kubernetes
// manifests — and the tests that check them without a container engine:
// every file is parsed, every reference is resolved against the code
// (build targets, ports, environment variables derived from the services'
// config structs), and the NATS configuration is loaded by nats-server's
// own parser and run as a real three-node cluster.
package deploy
