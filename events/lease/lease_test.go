package lease_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/lease"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const key = "test.singleton"

// revision is the lease key's current revision (0: none).
func revision(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), events.BucketLeases)
	if err != nil {
		return 0
	}
	e, err := kv.Get(context.Background(), key)
	if err != nil {
		return 0
	}
	return e.Revision()
}

func TestOneOfThreeContendersRunsAtATime(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	w := newWork()
	cs := map[string]*contender{}
	for _, name := range []string{"a", "b", "c"} {
		_, js := natstest.Connect(t, s.ClientURL())
		cs[name] = start(t, lease.Lease{JS: js, Key: key, TTL: time.Second}, name, w.fn(name))
	}
	_, js := natstest.Connect(t, s.ClientURL())
	for round := 0; round < 3; round++ {
		natstest.WaitFor(t, natstest.Wait, "one contender to run the work", func() bool { return w.running() != "" })
		from := revision(t, js)
		natstest.WaitFor(t, natstest.Wait, "three renewals", func() bool { return revision(t, js) >= from+3 })
		holder := w.running()
		if n := w.runCount(holder); n != 1 {
			t.Fatalf("round %d: %s started the work %d times, want once", round, holder, n)
		}
		if rec, ok, err := lease.Current(context.Background(), js, key); err != nil || !ok || rec.Holder != holder {
			t.Fatalf("round %d: the bucket says %+v (found %v, %v), want holder %s", round, rec, ok, err, holder)
		}
		if err := cs[holder].stop(); err != nil {
			t.Fatal(err)
		}
	}
	w.checkOneAtATime(t)
	for name := range cs {
		if n := w.runCount(name); n != 1 {
			t.Errorf("%s ran the work %d times, want once (each held it once, in turn)", name, n)
		}
	}
}

func TestReleaseOnShutdownMakesTakeoverImmediate(t *testing.T) {
	t.Parallel()
	w := newWork()
	// A TTL and a retry far longer than the wait below: only the release,
	// seen by the waiting replica's watch, can hand the lease over in time.
	a, _ := holderAndStandby(t, w, lease.Lease{TTL: time.Minute, Retry: time.Minute, Key: key})

	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	a.waitLog(t, "lease released")
	natstest.WaitFor(t, 10*time.Second, "b to take over well before the 1m TTL", func() bool { return w.running() == "b" })
	w.checkOneAtATime(t)
}

func TestHolderThatStopsRenewingHandsOverWhenItsLeaseExpires(t *testing.T) {
	t.Parallel()
	w := newWork()
	a, _ := holderAndStandby(t, w, lease.Lease{Key: key, TTL: 2 * time.Second, Retry: time.Minute})

	a.nc.Close() // a can neither renew nor release: like a replica that died
	natstest.WaitFor(t, 10*time.Second, "a to stop its work", func() bool { return w.running() != "a" })
	// The retry is a minute: the expiry marker, seen by b's watch, wakes it.
	natstest.WaitFor(t, 10*time.Second, "b to take over once the 2s TTL ran out", func() bool { return w.running() == "b" })
	w.checkOneAtATime(t)
}

func TestRenewalUnderNormalOperationNeverDropsTheLease(t *testing.T) {
	t.Parallel()
	w := newWork()
	reg := prometheus.NewRegistry()
	a, b := holderAndStandby(t, w, lease.Lease{Key: key, TTL: time.Second, Metrics: lease.NewMetrics(reg)})

	from := revision(t, b.js)
	natstest.WaitFor(t, natstest.Wait, "ten renewals (over three TTLs)", func() bool { return revision(t, b.js) >= from+10 })
	if w.running() != "a" || w.runCount("a") != 1 || w.runCount("b") != 0 {
		t.Fatalf("running %q, a started %d times, b %d: the lease changed hands", w.running(), w.runCount("a"), w.runCount("b"))
	}
	if strings.Contains(a.logs.String(), "not renewed") {
		t.Fatalf("a missed a renewal:\n%s", a.logs)
	}
	want := `
# HELP pulsehub_lease_held 1 while this replica holds the lease and runs its work, 0 while it stands by.
# TYPE pulsehub_lease_held gauge
pulsehub_lease_held{lease="test.singleton"} 1
# HELP pulsehub_lease_lost_total Times this replica lost the lease without releasing it (not renewed in time, or written by someone else).
# TYPE pulsehub_lease_lost_total counter
pulsehub_lease_lost_total{lease="test.singleton"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "pulsehub_lease_held", "pulsehub_lease_lost_total"); err != nil {
		t.Fatal(err)
	}
}

func TestKeyWrittenBySomeoneElseStopsTheWorkUntilDeleted(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	w := newWork()
	_, js := natstest.Connect(t, s.ClientURL())
	a := start(t, lease.Lease{JS: js, Key: key, TTL: time.Second, Retry: time.Minute}, "a", w.fn("a"))
	natstest.WaitFor(t, natstest.Wait, "a to run the work", func() bool { return w.running() == "a" })

	// An operator pauses the work: `nats kv put leases test.singleton paused`.
	kv, err := js.KeyValue(t.Context(), events.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), key, []byte("paused")); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, natstest.Wait, "a to stop its work", func() bool { return w.running() == "" })
	a.waitLog(t, "lease lost")
	a.waitLog(t, "standing by")
	if _, _, err := lease.Current(t.Context(), js, key); err == nil || !strings.Contains(err.Error(), "not a lease record") {
		t.Fatalf("Current on an operator's value: %v", err)
	}

	if err := kv.Delete(t.Context(), key); err != nil { // resume
		t.Fatal(err)
	}
	natstest.WaitFor(t, 10*time.Second, "a to run the work again (woken by the delete, not the 1m retry)", func() bool { return w.running() == "a" })
	if n := w.runCount("a"); n != 2 {
		t.Fatalf("a started %d times, want 2", n)
	}
}

func TestWorkThatReturnsEndsRunAndReleasesTheLease(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	boom := errors.New("boom")
	for _, want := range []error{boom, nil} {
		l := lease.Lease{JS: js, Key: key, TTL: time.Minute, Log: slog.New(slog.DiscardHandler)}
		err := l.Run(t.Context(), func(context.Context) error { return want })
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("Run = %v, want %v", err, want)
		}
		if rec, ok, err := lease.Current(t.Context(), js, key); ok || err != nil {
			t.Fatalf("after Run: held by %+v (%v), want released", rec, err)
		}
	}
}

func TestNATSDownAtStartThenAcquiresWhenItIsBack(t *testing.T) {
	t.Parallel()
	o := natstest.Options(t.TempDir())
	o.Port = natstest.FreePort(t)
	s := natstest.Start(t, o.Clone())
	_, js := natstest.Connect(t, s.ClientURL())
	natstest.Shutdown(s)
	w := newWork()
	a := start(t, lease.Lease{JS: js, Key: key, TTL: time.Second}, "a", w.fn("a"))
	a.waitLog(t, "lease not acquired: trying again")

	s = natstest.Start(t, o.Clone())
	t.Cleanup(func() { natstest.Shutdown(s) })
	natstest.WaitFor(t, natstest.Wait, "a to run the work once NATS is back", func() bool { return w.running() == "a" })
}

func TestCurrentBeforeTheBucketExists(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	if rec, ok, err := lease.Current(t.Context(), js, key); ok || err != nil {
		t.Fatalf("Current = %+v, %v, %v; want nothing", rec, ok, err)
	}
	if _, err := lease.Open(t.Context(), js, stream.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if rec, ok, err := lease.Current(t.Context(), js, key); ok || err != nil {
		t.Fatalf("Current = %+v, %v, %v; want nothing", rec, ok, err)
	}
}

func TestBadLeaseIsRefused(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ok := func(context.Context) error { return nil }
	for _, c := range []struct {
		name string
		l    lease.Lease
		fn   func(context.Context) error
		want string
	}{
		{"no JetStream", lease.Lease{Key: key}, ok, "no JetStream"},
		{"empty key", lease.Lease{JS: js}, ok, "a key is made of"},
		{"space in key", lease.Lease{JS: js, Key: "a b"}, ok, "a key is made of"},
		{"wildcard key", lease.Lease{JS: js, Key: "a.*"}, ok, "a key is made of"},
		{"leading dot", lease.Lease{JS: js, Key: ".a"}, ok, "a key is made of"},
		{"empty token", lease.Lease{JS: js, Key: "a..b"}, ok, "a key is made of"},
		{"TTL under a second", lease.Lease{JS: js, Key: key, TTL: 900 * time.Millisecond}, ok, "at least 1s"},
		{"no work", lease.Lease{JS: js, Key: key}, nil, "no work"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.l.Run(t.Context(), c.fn)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run = %v, want an error with %q", err, c.want)
			}
		})
	}
}
