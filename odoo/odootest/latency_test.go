package odootest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/odoo"
)

func TestMeasuredOdoo19CostsWhatTheRealServerTook(t *testing.T) {
	for _, tc := range []struct {
		method string
		n      int
		want   time.Duration
	}{
		{"write", 1, 20*time.Millisecond + 650*time.Microsecond},
		{"create", 500, 345 * time.Millisecond},
		{"create", 2000, 1320 * time.Millisecond},
		{"search_read", 100, 25 * time.Millisecond},
		{"search_read", 0, 20 * time.Millisecond},
		{"authenticate", 0, 20 * time.Millisecond},
	} {
		if got := MeasuredOdoo19.of(tc.method, tc.n); got != tc.want {
			t.Errorf("%s of %d records: %s, want %s", tc.method, tc.n, got, tc.want)
		}
	}
	if got := (Latency{PerRecord: time.Millisecond}).of("search_read", 3); got != 3*time.Millisecond {
		t.Errorf("with no PerRead, a read's records cost PerRecord: %s", got)
	}
}

// A Serial fake serves one call at a time: a call that hangs holds the
// server, the next call queues behind it and is served once it ends.
func TestSerialCallsQueueBehindTheOneBeingServed(t *testing.T) {
	for _, transport := range []string{odoo.TransportXMLRPC, odoo.TransportJSON2} {
		t.Run(transport, func(t *testing.T) {
			s := New(t, WithLatency(Latency{Serial: true}))
			c, err := odoo.New(s.Config(transport))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Authenticate(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.FailNext(1, Hang().For("search_count"))
			hung, cancelHung := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := c.ExecuteKW(hung, "res.partner", "search_count", []any{[]any{}}, nil)
				done <- err
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.WaitCalls(ctx, "search_count", 1); err != nil {
				t.Fatal(err)
			}
			// Gives a parallel server the chance to answer the second call.
			queued, cancelQueued := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancelQueued()
			if _, err := c.ExecuteKW(queued, "res.partner", "search_count", []any{[]any{}}, nil); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a call beside a hung one: %v, want it queued until its deadline", err)
			}
			cancelHung()
			<-done
			n, err := c.ExecuteKW(ctx, "res.partner", "search_count", []any{[]any{}}, nil)
			if err != nil || n != int64(3) || s.Busy() <= 0 {
				t.Fatalf("after the hung call ended: %v %v", n, err)
			}
		})
	}
}

// Served lists a Serial fake's calls in the order it served them, one
// after the other, with the records each touched; ResetCounters empties it.
func TestServedListsTheCallsOneAfterTheOther(t *testing.T) {
	for _, transport := range []string{odoo.TransportXMLRPC, odoo.TransportJSON2} {
		t.Run(transport, func(t *testing.T) {
			s := New(t, WithLatency(Latency{PerCall: time.Millisecond, Serial: true}))
			c, err := odoo.New(s.Config(transport))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := c.Create(ctx, "res.partner", []map[string]any{{"name": "a"}, {"name": "b"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ExecuteKW(ctx, "res.partner", "search_read", []any{[]any{}}, map[string]any{"fields": []any{"name"}}); err != nil {
				t.Fatal(err)
			}
			got := s.Served()
			if len(got) != 3 || got[1].Model != "res.partner" || got[1].Method != "create" || got[1].Records != 2 ||
				got[2].Method != "search_read" || got[2].Records != 5 {
				t.Fatalf("served %+v", got)
			}
			for i, c := range got {
				if c.End.Sub(c.Start) < time.Millisecond || i > 0 && c.Start.Before(got[i-1].End) {
					t.Errorf("call %d (%s) ran from %s to %s, the one before ended at %s", i, c.Method, c.Start, c.End, got[max(i-1, 0)].End)
				}
			}
			s.ResetCounters()
			if n := len(s.Served()); n != 0 {
				t.Fatalf("%d calls served after ResetCounters", n)
			}
		})
	}
}
