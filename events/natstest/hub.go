package natstest

import (
	"context"
	"fmt"
	"testing"

	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Hub is one JetStream server with the hub's streams and a client
// connection to it, as most tests of a service want it.
type Hub struct {
	Server *server.Server
	URL    string // the server's client URL
	Conn   *nats.Conn
	JS     jetstream.JetStream
}

// RunHub starts a JetStream server for the test, connects to it and
// ensures the hub's streams with streams (stream.DefaultConfig() when
// omitted; at most one). The connection and the server stop with the
// test.
func RunHub(tb testing.TB, streams ...stream.Config) *Hub {
	tb.Helper()
	s := RunServer(tb)
	nc, js := Connect(tb, s.ClientURL())
	EnsureStreams(tb, js, streams...)
	return &Hub{Server: s, URL: s.ClientURL(), Conn: nc, JS: js}
}

// StartHub is RunHub outside a test (a benchmark program): the store
// lives in dir, and Close stops the connection and the server.
func StartHub(dir string, streams ...stream.Config) (*Hub, error) {
	s, err := start(Options(dir))
	if err != nil {
		return nil, err
	}
	h := &Hub{Server: s, URL: s.ClientURL()}
	if h.Conn, h.JS, err = connect(h.URL); err == nil {
		err = ensureStreams(h.JS, streams)
	}
	if err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Close closes the connection and stops the server of a StartHub.
func (h *Hub) Close() {
	if h.Conn != nil {
		h.Conn.Close()
	}
	Shutdown(h.Server)
}

// EnsureStreams ensures the hub's streams on js with streams
// (stream.DefaultConfig() when omitted; at most one), on one server or a
// cluster: stream.Ensure waits out a leader election by itself. It fails
// the test on an error.
func EnsureStreams(tb testing.TB, js jetstream.JetStream, streams ...stream.Config) {
	tb.Helper()
	if err := ensureStreams(js, streams); err != nil {
		tb.Fatal(err)
	}
}

func ensureStreams(js jetstream.JetStream, streams []stream.Config) error {
	cfg := stream.DefaultConfig()
	switch len(streams) {
	case 0:
	case 1:
		cfg = streams[0]
	default:
		panic("natstest: more than one stream config")
	}
	ctx, cancel := context.WithTimeout(context.Background(), stream.ReadyTimeout+Wait)
	defer cancel()
	if _, err := stream.Ensure(ctx, js, stream.Specs(cfg)...); err != nil {
		return fmt.Errorf("natstest: ensure the hub's streams: %w", err)
	}
	return nil
}
