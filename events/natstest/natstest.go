// Package natstest runs real nats-servers with JetStream in-process for
// tests: one server, one with the hub's streams ensured and a connection
// to it (RunHub), or a named three-node cluster on loopback with helpers
// to wait for leaders and to stop, kill (no Raft step-down) and restart a
// node. Every server it starts is shut down by t.Cleanup, and its store
// lives in t.TempDir; StartHub alone is for programs outside a test
// (benchmarks), which close it themselves.
//
// It follows nats-server's own test helpers (jetstream_helpers_test.go):
// the promises about delivery are tested against real JetStream, never a
// mock.
package natstest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Wait is how long helpers wait for a server or a leader before failing.
const Wait = 20 * time.Second

// Options builds the options of a single JetStream server on a random
// loopback port with its store in dir.
func Options(dir string) *server.Options {
	return &server.Options{
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		HTTPPort:   -1,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   dir,
		MaxPayload: 32 << 20, // GitHub deliveries go up to 25 MiB
	}
}

// Start starts a server from opts and waits until it accepts clients.
func Start(tb testing.TB, opts *server.Options) *server.Server {
	tb.Helper()
	s, err := start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func start(opts *server.Options) (*server.Server, error) {
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natstest: new server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(Wait) {
		s.Shutdown()
		return nil, fmt.Errorf("natstest: server %s not ready within %s", opts.ServerName, Wait)
	}
	return s, nil
}

// RunServer starts one JetStream server for the test and stops it after.
func RunServer(tb testing.TB) *server.Server {
	tb.Helper()
	s := Start(tb, Options(tb.TempDir()))
	tb.Cleanup(func() { Shutdown(s) })
	return s
}

// Shutdown stops s and waits until it has.
func Shutdown(s *server.Server) {
	if s == nil {
		return
	}
	s.Shutdown()
	s.WaitForShutdown()
}

// Connect opens a client connection to url (one server or a
// comma-separated list) that retries its reconnects forever; it is closed
// by t.Cleanup.
func Connect(tb testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, js, err := connect(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc, js
}

func connect(url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	base := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond), nats.Timeout(2 * time.Second)}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("natstest: connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("natstest: jetstream: %w", err)
	}
	return nc, js, nil
}

// FreePort returns a loopback TCP port nothing listens on right now,
// picked below the kernel's ephemeral range (32768-60999 on Linux): a port
// from that range can be taken, between this call and the listen that
// follows, as the source port of any outgoing connection (a NATS client's),
// which made tests fail with "address already in use". Below it only
// another listener can take it, and the pick is random among 12,000 ports.
func FreePort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken: try another
		}
		l.Close()
		return port
	}
	tb.Fatalf("natstest: no free port in 20000-31999 after 100 tries")
	return 0
}

// WaitFor polls cond every 10 ms until it is true or d has passed; it fails
// the test with what when time runs out. Tests wait on conditions, never on
// fixed sleeps.
func WaitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("natstest: timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// URL is the client URL of s.
func URL(s *server.Server) string { return s.ClientURL() }
