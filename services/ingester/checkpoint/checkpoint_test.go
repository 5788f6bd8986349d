package checkpoint_test

import (
	"io"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/services/ingester/checkpoint"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
)

func TestCheckpointRoundTripMissingAndCorrupt(t *testing.T) {
	n := ingesttest.StartNATS(t)
	deps := n.Deps(t, io.Discard)
	s, err := checkpoint.Open(t.Context(), deps.JS, deps.Streams)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ N int }
	if found, err := s.Load(t.Context(), "nothing-yet", &v); found || err != nil {
		t.Fatalf("missing: %v %v", found, err)
	}
	if err := s.Save(t.Context(), "k", struct{ N int }{7}); err != nil {
		t.Fatal(err)
	}
	if found, err := s.Load(t.Context(), "k", &v); !found || err != nil || v.N != 7 {
		t.Fatalf("round trip: %v %v %v", found, err, v)
	}
	if _, err := s.KV.Put(t.Context(), "k", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context(), "k", &v); err == nil || !strings.Contains(err.Error(), "checkpoint k: decode") {
		t.Fatalf("corrupt: %v", err)
	}
	if err := s.Save(t.Context(), "k", func() {}); err == nil {
		t.Fatal("saved a value JSON cannot encode")
	}
	if err := s.Save(t.Context(), "bad key!", 1); err == nil {
		t.Fatal("saved under an invalid key")
	}
	n.Stop()
	if _, err := s.Load(t.Context(), "k", &v); err == nil || !strings.Contains(err.Error(), "checkpoint k: get") {
		t.Fatalf("NATS down: %v", err)
	}
}
