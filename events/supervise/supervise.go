// Package supervise is the one supervisor of a Pulse Hub process: every
// service, every consume loop, every HTTP server and background loop runs
// as a named task of a Group.
//
// The rule is "first failure stops all": a task that returns an error, or
// that returns at all while the group is still running (a loop that dies
// quietly is a failure too), cancels the group's context; every other task
// then finishes or hands back its in-flight work and returns; Wait returns
// the first failure, named after its task. Nothing is logged here: the
// cause reaches the composition root (`hub run`) by value, which logs it
// once and exits non-zero so systemd, Docker or Kubernetes restart the
// process. While the group stops, Check (a /health check) names the tasks
// that failed.
//
// Groups nest by value: a service's Run makes its own Group for its loops
// and is itself a task of the root's Group, so its failure carries both
// names ("odoowriter: route github-issues: …").
package supervise

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// ErrReturned is the cause recorded for a task that returned nil while its
// group was still running: a loop is meant to run until it is stopped.
var ErrReturned = errors.New("returned while the process was running")

// Group runs named tasks until the first one fails or its parent context
// ends. The zero value is not usable; call New.
type Group struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	eg     errgroup.Group

	// Tasks started with GoLast run until every other task has returned.
	lastCtx    context.Context
	lastCancel context.CancelFunc
	last       errgroup.Group

	mu     sync.Mutex
	first  error            // the first failure, named
	failed map[string]error // every task that failed, by name
	names  map[string]int   // tasks started under each name, so names stay unique
}

// New returns a group whose context is done when parent is, when a task
// fails, or when Fail is called.
func New(parent context.Context) *Group {
	ctx, cancel := context.WithCancelCause(parent)
	lastCtx, lastCancel := context.WithCancel(context.WithoutCancel(parent))
	return &Group{ctx: ctx, cancel: cancel, lastCtx: lastCtx, lastCancel: lastCancel, failed: map[string]error{}, names: map[string]int{}}
}

// Context is done once the group stops; tasks receive it.
func (g *Group) Context() context.Context { return g.ctx }

// Go runs fn as the task name. fn must run until its context is done and
// then return nil (or the context's error); any other return stops the
// group.
func (g *Group) Go(name string, fn func(context.Context) error) {
	g.start(&g.eg, g.ctx, name, fn)
}

// GoLast runs fn as the task name like Go, but its context is done only
// once every task started with Go has returned: a service's HTTP server,
// so that /health keeps answering (503, naming the failed task) and
// in-flight requests finish while the loops drain.
func (g *Group) GoLast(name string, fn func(context.Context) error) {
	g.start(&g.last, g.lastCtx, name, fn)
}

func (g *Group) start(eg *errgroup.Group, ctx context.Context, name string, fn func(context.Context) error) {
	name = g.unique(name)
	eg.Go(func() error {
		err := fn(ctx)
		if g.ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
			return nil // stopped as asked
		}
		if err == nil {
			err = ErrReturned
		}
		g.Fail(name, err)
		return nil
	})
}

// Fail stops the group with err as the failure of name: for failures that
// are noticed outside a task (a NATS connection closed for good).
func (g *Group) Fail(name string, err error) {
	named := fmt.Errorf("%s: %w", name, err)
	g.mu.Lock()
	g.failed[name] = err
	if g.first == nil {
		g.first = named
	}
	g.mu.Unlock()
	g.cancel(named)
}

// Stop stops the group without a failure (a signal, a test's end).
func (g *Group) Stop() { g.cancel(context.Canceled) }

// Wait waits for every task to return and returns the first failure, or
// nil when the group was stopped by its parent or by Stop.
func (g *Group) Wait() error {
	_ = g.eg.Wait()
	// Every task started with Go has returned, which stops the group (a
	// return is a failure) unless there were none: then the group runs its
	// last tasks until it is stopped.
	<-g.ctx.Done()
	g.lastCancel()
	_ = g.last.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.first
}

// Check is a /health check: nil while the group runs; once it stops, an
// error naming each failed task with its cause, or saying it is stopping
// (a load balancer stops sending work while in-flight work drains).
func (g *Group) Check(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.failed) == 0 {
		if g.ctx.Err() != nil {
			return errors.New("stopping")
		}
		return nil
	}
	names := make([]string, 0, len(g.failed))
	for n := range g.failed {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + g.failed[n].Error()
	}
	return errors.New("stopping: " + strings.Join(parts, "; "))
}

func (g *Group) unique(name string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.names[name]++
	if n := g.names[name]; n > 1 {
		return fmt.Sprintf("%s#%d", name, n)
	}
	return name
}
