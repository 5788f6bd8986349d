package service

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"

	"github.com/insightpulse/pulsehub/events/config"
)

// ScrubHandler wraps h so that no configured secret reaches it: the
// message and every attribute value — strings, errors, values that
// marshal to JSON, inside groups, and those added with Logger.With — pass
// through config.Scrub first. NewLogger applies it, so every logger of
// the hub (each service's, the Odoo client's, the embedded server's)
// writes through it.
func ScrubHandler(h slog.Handler) slog.Handler { return scrubHandler{h} }

type scrubHandler struct{ next slog.Handler }

func (h scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, config.Scrub(r.Message), r.PC)
	// Added at once, the record's attributes grow once (one at a time,
	// a request's log line grew them five times).
	var buf [24]slog.Attr
	as := buf[:0]
	r.Attrs(func(a slog.Attr) bool {
		as = append(as, scrubAttr(a))
		return true
	})
	out.AddAttrs(as...)
	return h.next.Handle(ctx, out)
}

func (h scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = scrubAttr(a)
	}
	return scrubHandler{h.next.WithAttrs(out)}
}

func (h scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{h.next.WithGroup(name)}
}

func scrubAttr(a slog.Attr) slog.Attr { return slog.Attr{Key: a.Key, Value: scrubValue(a.Value)} }

func scrubValue(v slog.Value) slog.Value {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(config.Scrub(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]slog.Attr, len(as))
		for i, a := range as {
			out[i] = scrubAttr(a)
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		return scrubAny(v)
	}
	return v // numbers, bools, durations, times
}

// scrubAny renders an arbitrary value the way slog's JSON handler does (an
// error as its message, anything else as JSON) and scrubs that.
func scrubAny(v slog.Value) slog.Value {
	a := v.Any()
	if err, ok := a.(error); ok {
		if _, marshals := a.(json.Marshaler); !marshals {
			return slog.StringValue(config.Scrub(err.Error()))
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(a) != nil {
		return v // the JSON handler reports what it cannot encode
	}
	raw := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	s := config.Scrub(string(raw))
	if s == string(raw) {
		return v
	}
	if json.Valid([]byte(s)) {
		return slog.AnyValue(json.RawMessage(s))
	}
	return slog.StringValue(s)
}
