package odoohook

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/odooevent"
	"github.com/nats-io/nats.go/jetstream"
)

// StoredLookup reads the write_date header of a stored event.
type StoredLookup interface {
	WriteDate(ctx context.Context, stream string, seq uint64) (string, error)
}

// sameSecond reports whether a change JetStream called a duplicate is in
// fact a later change of the record within the same second: its id is
// derived from write_date in whole seconds, so both share it. The stored
// copy's write_date tells them apart when both came by webhook (with
// microseconds). Odoo's repeated POSTs of one change carry the same
// write_date and stay duplicates; a copy stored by the poll has only
// seconds, and then there is nothing finer to compare.
func (h *Handler) sameSecond(r *http.Request, c odooevent.Change, a intake.Accepted) bool {
	if h.Stored == nil || c.PreciseID() == "" {
		return false
	}
	stored, err := h.Stored.WriteDate(r.Context(), a.Stream, a.Seq)
	if err != nil {
		h.Log.Warn("could not read the stored copy of a duplicate Odoo change; keeping it as a duplicate",
			"correlation_id", a.ID, "stream", a.Stream, "stream_seq", a.Seq, "error", err.Error())
		return false
	}
	return odooevent.HasFraction(stored) && stored != c.WriteDate
}

// StreamLookup reads stored events from JetStream.
type StreamLookup struct {
	JS jetstream.JetStream

	mu      sync.Mutex
	streams map[string]jetstream.Stream
}

// WriteDate returns the Odoo-Write-Date header of the message at seq.
func (l *StreamLookup) WriteDate(ctx context.Context, stream string, seq uint64) (string, error) {
	s, err := l.stream(ctx, stream)
	if err != nil {
		return "", err
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return "", fmt.Errorf("get %s seq %d: %w", stream, seq, err)
	}
	return m.Header.Get(odooevent.HeaderWriteDate), nil
}

func (l *StreamLookup) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.streams[name]; ok {
		return s, nil
	}
	s, err := l.JS.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", name, err)
	}
	if l.streams == nil {
		l.streams = map[string]jetstream.Stream{}
	}
	l.streams[name] = s
	return s, nil
}
