package consume

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxReason caps the reason header (a traceback can be long).
const maxReason = 4096

// DeadLetter stores a message that failed permanently, or whose attempts
// are exhausted, in the DLQ stream on dlq.<route>.<original subject>: the
// body untouched, the original headers kept, and the reason, kind,
// attempts, origin stream, sequence and subject, and route in headers. The
// original is acknowledged only after the DLQ stored the copy; if that
// publish fails, the message is retried instead of lost.
type DeadLetter struct {
	JS      jetstream.JetStream
	Timeout time.Duration // how long to wait for the DLQ publish; default 5s
}

// Middleware implements dead-lettering.
func (d DeadLetter) Middleware(next Handler) Handler {
	if d.Timeout <= 0 {
		d.Timeout = 5 * time.Second
	}
	return func(ctx context.Context, m *Msg) error {
		err := next(ctx, m)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if _, ok := IsDeferred(err); ok {
			return err
		}
		if !events.IsPermanent(err) && !m.exhausted {
			return err
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.Timeout)
		defer cancel()
		dl := DeadLetterMsg(m, err)
		perr := events.CheckSubject(dl.Subject) // within the limit for every valid route name: DLQSubject shortens a long original
		if perr == nil {
			_, perr = stream.Publish(pctx, d.JS, dl)
		}
		if perr != nil {
			return events.RetryAfter(fmt.Errorf("dead-letter %s seq %d: %w (original error: %v)", m.Stream(), m.Seq(), perr, err), time.Second)
		}
		m.deadLettered = true
		m.Logger().Error("dead-lettered", "reason", truncate(err.Error(), maxReason), "kind", events.Classify(err).String(), "attempts", m.Attempt)
		return nil
	}
}

// DeadLetterMsg builds the dead letter of m failed with cause.
func DeadLetterMsg(m *Msg, cause error) *nats.Msg {
	out := nats.NewMsg(events.DLQSubject(m.Route, m.Subject()))
	for k, v := range m.Raw.Headers() {
		if strings.HasPrefix(k, "Nats-") {
			continue // JetStream directives (schedules, expectations) must not act on the copy
		}
		out.Header[k] = append([]string(nil), v...)
	}
	// The reason is stored and shown (hub dlq show): a service that echoed
	// its credentials in an error answer must not put them there.
	info := DeadLetterInfo{Reason: truncate(config.Scrub(cause.Error()), maxReason), Kind: events.Classify(cause).String(),
		Attempts: m.Attempt, Time: time.Now().UTC().Truncate(time.Second), OriginStream: m.Stream(), OriginSeq: m.Seq(),
		OriginSubject: m.Subject(), Route: m.Route}
	if m.exhausted {
		info.Kind = KindExhausted
	}
	info.SetHeaders(out.Header)
	// One dead letter per stored message and route, even if this publish
	// is repeated after a lost ack.
	out.Header.Set(events.HeaderMsgID, fmt.Sprintf("dlq:%s:%s:%d", m.Route, m.Stream(), m.Seq()))
	out.Data = m.Data()
	return out
}

// truncate shortens s to n bytes and folds line breaks, which a NATS
// header cannot hold (Odoo faults are multi-line tracebacks).
func truncate(s string, n int) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
