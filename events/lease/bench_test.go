package lease

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
)

// BenchmarkRenew is one renewal: a write at the last revision, with the
// TTL, acknowledged by a single file-store server on loopback.
func BenchmarkRenew(b *testing.B) {
	s := natstest.RunServer(b)
	_, js := natstest.Connect(b, s.ClientURL())
	r, err := Lease{JS: js, Key: "bench.renew", TTL: time.Minute, Log: slog.New(slog.DiscardHandler)}.runner()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	g, err := r.acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	rev := g.rev
	for b.Loop() {
		if rev, err = r.renew(ctx, rev, g.acquired); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandOverOnRelease is how long a replica standing by takes to
// run the work after the holder stops: the holder's work returns, it
// deletes the key, the waiting replica's watch sees the delete, and its
// Create wins. Reported as ms/handover.
func BenchmarkHandOverOnRelease(b *testing.B) {
	s := natstest.RunServer(b)
	_, js := natstest.Connect(b, s.ClientURL())
	run := func() (stop func(), started, standing chan struct{}) {
		started, standing = make(chan struct{}, 1), make(chan struct{}, 1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		l := Lease{JS: js, Key: "bench.handover", TTL: time.Minute, Retry: time.Minute,
			Log: slog.New(signal{msg: "standing by", ch: standing})}
		go func() {
			defer close(done)
			_ = l.Run(ctx, func(ctx context.Context) error {
				started <- struct{}{}
				<-ctx.Done()
				return nil
			})
		}()
		return func() { cancel(); <-done }, started, standing
	}
	stopHolder, started, _ := run()
	<-started
	var total time.Duration
	for b.Loop() {
		stopNext, nextStarted, nextStanding := run()
		<-nextStanding
		t0 := time.Now()
		stopHolder()
		<-nextStarted
		total += time.Since(t0)
		stopHolder = stopNext
	}
	stopHolder()
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/handover")
}

// signal is a slog handler that signals once a record's message contains msg.
type signal struct {
	msg string
	ch  chan struct{}
}

func (s signal) Enabled(context.Context, slog.Level) bool { return true }
func (s signal) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s signal) WithGroup(string) slog.Handler            { return s }
func (s signal) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, s.msg) {
		select {
		case s.ch <- struct{}{}:
		default:
		}
	}
	return nil
}
