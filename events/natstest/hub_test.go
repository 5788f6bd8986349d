package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
)

// streamNames maps the name of every stream js holds to its config.
func streamNames(t *testing.T, js jetstream.JetStream) map[string]jetstream.StreamConfig {
	t.Helper()
	out := map[string]jetstream.StreamConfig{}
	l := js.ListStreams(context.Background())
	for info := range l.Info() {
		out[info.Config.Name] = info.Config
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunHubEnsuresTheDefaultStreams(t *testing.T) {
	h := natstest.RunHub(t)
	if h.URL != h.Server.ClientURL() || !h.Conn.IsConnected() {
		t.Fatalf("hub %s not connected to %s", h.URL, h.Server.ClientURL())
	}
	got := streamNames(t, h.JS)
	for _, name := range stream.Names() {
		if _, ok := got[name]; !ok {
			t.Errorf("stream %s missing: %v", name, got)
		}
	}
}

func TestRunHubTakesAStreamConfig(t *testing.T) {
	cfg := stream.DefaultConfig()
	l := cfg.Limits[events.StreamGitHub]
	l.MaxAge = 96 * time.Hour
	cfg.Limits[events.StreamGitHub] = l
	h := natstest.RunHub(t, cfg)
	if got := streamNames(t, h.JS)[events.StreamGitHub].MaxAge; got != 96*time.Hour {
		t.Fatalf("GITHUB max age %s, want 96h", got)
	}
}

func TestStartHubCloses(t *testing.T) {
	h, err := natstest.StartHub(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(streamNames(t, h.JS)) != len(stream.Names()) {
		t.Fatal("streams not ensured")
	}
	h.Close()
	if !h.Conn.IsClosed() || h.Server.Running() {
		t.Fatal("Close left the connection or the server running")
	}
}
