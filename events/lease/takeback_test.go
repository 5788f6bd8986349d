package lease

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

func testRunner(t *testing.T, js jetstream.JetStream, holder string) *runner {
	t.Helper()
	r, err := Lease{JS: js, Key: "test.takeback", Holder: holder, TTL: time.Minute, Log: slog.New(slog.DiscardHandler)}.runner()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The paths a write whose answer was lost takes: the key is still ours
// at a revision we did not see.
func TestALeaseStillOursIsTakenBack(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := t.Context()
	r := testRunner(t, js, "a")
	g, err := r.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// acquire again (the Create's answer was lost, or the lease was
	// given up while NATS was away and has not expired): taken back.
	again, err := r.acquire(ctx)
	if err != nil {
		t.Fatalf("acquire of a lease still ours: %v", err)
	}
	if again.rev <= g.rev || !again.acquired.Equal(g.acquired.UTC()) {
		t.Fatalf("taken back at revision %d (was %d), acquired %s (was %s)", again.rev, g.rev, again.acquired, g.acquired)
	}

	// A renewal whose answer was lost: the next renewal, at the revision
	// we knew, finds our own token at a newer one and renews there.
	lost, err := r.write(ctx, again.rev, again.acquired, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rev, err := r.renew(ctx, again.rev, again.acquired)
	if err != nil || rev <= lost {
		t.Fatalf("renew after a lost answer: revision %d, %v (lost write at %d)", rev, err, lost)
	}

	// Another holder finds it held, by whom.
	var held *heldError
	if _, err := testRunner(t, js, "b").acquire(ctx); !errors.As(err, &held) || held.rec.Holder != "a" {
		t.Fatalf("b's acquire: %v, want held by a", err)
	}
}

func TestRenewalFindsTheKeyNotOurs(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := t.Context()
	for _, c := range []struct {
		name  string
		other func(r *runner) error
	}{
		{"deleted", func(r *runner) error { return r.kv.Delete(ctx, r.Key) }},
		{"another holder's", func(r *runner) error {
			b := testRunner(t, js, "b")
			_, err := r.kv.Put(ctx, r.Key, b.value(time.Now(), time.Now()))
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := testRunner(t, js, "a")
			g, err := r.acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.other(r); err != nil {
				t.Fatal(err)
			}
			if _, err := r.renew(ctx, g.rev, g.acquired); !errors.Is(err, errNotOurs) {
				t.Fatalf("renew: %v, want errNotOurs", err)
			}
			_ = r.kv.Purge(context.Background(), r.Key)
		})
	}
}

// A replica killed before it released its lease (a container restarted:
// the same host name and pid 1, so the same holder) takes it over at once
// when it comes back, instead of standing by for the TTL; a live Run of
// the same name in this process, and another holder, still find it held.
func TestARestartedReplicaTakesItsDeadRunsLeaseOverAtOnce(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := t.Context()
	dead := testRunner(t, js, "host:1")
	if _, err := dead.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	running.Delete(dead.token) // the process is gone (its Run never returned)

	restarted := testRunner(t, js, "host:1")
	g, err := restarted.acquire(ctx)
	if err != nil {
		t.Fatalf("the restarted replica's acquire: %v, want the dead run's lease taken over", err)
	}
	if _, err := dead.renew(ctx, g.rev-1, g.acquired); !errors.Is(err, errNotOurs) {
		t.Fatalf("the dead run's renewal: %v, want not ours", err)
	}
	var held *heldError
	if _, err := testRunner(t, js, "host:1").acquire(ctx); !errors.As(err, &held) {
		t.Fatalf("a second live run of the same holder: %v, want held", err)
	}
	if _, err := testRunner(t, js, "other:7").acquire(ctx); !errors.As(err, &held) {
		t.Fatalf("another holder: %v, want held", err)
	}

	// Two live processes under one holder name (running cannot see the
	// other process's Runs): the newcomer takes the lease once; the one it
	// took it from notices at its next renewal and never takes it back.
	running.Delete(restarted.token) // as seen from another process
	twin := testRunner(t, js, "host:1")
	tg, err := twin.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.renew(ctx, g.rev, g.acquired); !errors.Is(err, errNotOurs) || !restarted.twin {
		t.Fatalf("renewal after a twin took over: %v (twin noticed: %v)", err, restarted.twin)
	}
	running.Delete(twin.token) // still as seen from the other process
	if _, err := restarted.acquire(ctx); !errors.As(err, &held) {
		t.Fatalf("the twin's lease taken back: %v, want held", err)
	}
	if _, err := twin.renew(ctx, tg.rev, tg.acquired); err != nil {
		t.Fatalf("the twin's renewal: %v", err)
	}
}
