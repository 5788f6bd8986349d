package supervise

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitErr waits for g with a bound.
func waitErr(t *testing.T, g *Group) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("group did not stop")
		return nil
	}
}

func untilDone(ctx context.Context) error { <-ctx.Done(); return nil }

func TestFirstFailureStopsEveryTaskAndIsNamed(t *testing.T) {
	g := New(context.Background())
	var stopped atomic.Int32
	for range 3 {
		g.Go("loop", func(ctx context.Context) error { <-ctx.Done(); stopped.Add(1); return ctx.Err() })
	}
	boom := errors.New("boom")
	g.Go("route r1", func(context.Context) error { return boom })
	err := waitErr(t, g)
	if !errors.Is(err, boom) || err.Error() != "route r1: boom" {
		t.Fatalf("err = %v", err)
	}
	if stopped.Load() != 3 {
		t.Fatalf("%d of 3 tasks stopped", stopped.Load())
	}
	if cerr := g.Check(context.Background()); cerr == nil || !strings.Contains(cerr.Error(), "route r1: boom") {
		t.Fatalf("check = %v", cerr)
	}
	if !errors.Is(context.Cause(g.Context()), boom) {
		t.Fatalf("cause = %v", context.Cause(g.Context()))
	}
}

func TestATaskThatReturnsWhileRunningIsAFailure(t *testing.T) {
	g := New(context.Background())
	g.Go("http", untilDone)
	g.Go("poll", func(context.Context) error { return nil })
	err := waitErr(t, g)
	if !errors.Is(err, ErrReturned) || !strings.HasPrefix(err.Error(), "poll: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestStoppedByParentIsNoFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := New(ctx)
	g.Go("a", untilDone)
	g.Go("b", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	if err := g.Check(ctx); err != nil {
		t.Fatalf("check while running = %v", err)
	}
	cancel()
	if err := waitErr(t, g); err != nil {
		t.Fatalf("err = %v", err)
	}
	// Stop works the same way.
	g2 := New(context.Background())
	g2.Go("a", untilDone)
	g2.Stop()
	if err := waitErr(t, g2); err != nil {
		t.Fatalf("err after Stop = %v", err)
	}
}

func TestFailFromOutsideAndErrorsDuringStop(t *testing.T) {
	g := New(context.Background())
	g.Go("loop", func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("flush on the way out failed")
	})
	g.Fail("nats", errors.New("connection closed"))
	err := waitErr(t, g)
	if err == nil || err.Error() != "nats: connection closed" {
		t.Fatalf("err = %v (the first failure is the cause)", err)
	}
	if cerr := g.Check(context.Background()); !strings.Contains(cerr.Error(), "loop: flush") || !strings.Contains(cerr.Error(), "nats: connection closed") {
		t.Fatalf("check names every failed task: %v", cerr)
	}
}

func TestNamesStayUnique(t *testing.T) {
	g := New(context.Background())
	g.Go("x", func(context.Context) error { return errors.New("one") })
	g.Go("x", func(ctx context.Context) error { <-ctx.Done(); return errors.New("two") })
	_ = waitErr(t, g)
	cerr := g.Check(context.Background()).Error()
	if !strings.Contains(cerr, "x: one") || !strings.Contains(cerr, "x#2: two") {
		t.Fatalf("check = %v", cerr)
	}
}

func TestALastTaskOutlivesTheOthersAndSeesTheFailure(t *testing.T) {
	g := New(context.Background())
	drained := make(chan struct{})
	var sawFailure atomic.Bool
	g.GoLast("http", func(ctx context.Context) error {
		<-g.Context().Done() // the group is stopping...
		if err := g.Check(ctx); err != nil && strings.Contains(err.Error(), "loop: boom") {
			sawFailure.Store(true) // ...and /health can say why
		}
		<-ctx.Done()
		select {
		case <-drained:
		default:
			t.Error("the last task stopped before the loops had drained")
		}
		return nil
	})
	g.Go("drainer", func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // hands back in-flight work
		close(drained)
		return nil
	})
	g.Go("loop", func(context.Context) error { return errors.New("boom") })
	if err := waitErr(t, g); err == nil || err.Error() != "loop: boom" {
		t.Fatalf("err = %v", err)
	}
	if !sawFailure.Load() {
		t.Fatal("the last task never saw the failure in Check")
	}
	// A last task that fails stops the group like any other.
	g2 := New(context.Background())
	g2.Go("loop", untilDone)
	g2.GoLast("http", func(context.Context) error { return errors.New("listen: address in use") })
	if err := waitErr(t, g2); err == nil || err.Error() != "http: listen: address in use" {
		t.Fatalf("err = %v", err)
	}
}

func TestCheckSaysStoppingDuringAGracefulStop(t *testing.T) {
	g := New(context.Background())
	g.Go("a", untilDone)
	g.Stop()
	if err := g.Check(context.Background()); err == nil || err.Error() != "stopping" {
		t.Fatalf("check = %v", err)
	}
	if err := waitErr(t, g); err != nil {
		t.Fatal(err)
	}
}

func TestAGroupOfOnlyLastTasksRunsUntilStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := New(ctx)
	g.GoLast("http", untilDone)
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("stopped by itself: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	if err := waitErr(t, g); err != nil {
		t.Fatal(err)
	}
}
