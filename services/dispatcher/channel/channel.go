// Package channel is one microservice as the dispatcher sees it, the
// hub's version of a queue_job channel: a capacity (the most calls in
// flight to it), an HTTP client with the service's timeout and auth
// header, and a circuit breaker. A message is admitted to a channel before
// its call: when the channel is saturated or its breaker is open,
// admission fails at once with a *Busy that says how long to wait, so the
// message goes back to JetStream instead of holding a worker.
package channel

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/insightpulse/pulsehub/services/dispatcher/call"
	"github.com/sony/gobreaker/v2"
)

// StateValue is the gauge value of a breaker state: 0 closed, 1 half-open, 2 open.
func StateValue(state wire.BreakerState) float64 {
	switch state {
	case wire.BreakerHalfOpen:
		return 1
	case wire.BreakerOpen:
		return 2
	}
	return 0
}

// Options are what a channel reports to its owner.
type Options struct {
	// OnStateChange is called when the breaker changes state. It runs
	// under the breaker's lock: it must not call back into the channel.
	OnStateChange func(service string, from, to wire.BreakerState)
	// SlotWait is how long Admit waits for a free slot before giving up;
	// default 50ms.
	SlotWait time.Duration
	// BusyDelay is how long a message waits after finding the channel
	// saturated; default 250ms (with jitter).
	BusyDelay time.Duration
}

// Channel is one configured service.
type Channel struct {
	name     string
	cfg      Config
	opts     Options
	client   *http.Client
	slots    chan struct{}
	breaker  *gobreaker.TwoStepCircuitBreaker[struct{}]
	openedAt atomic.Int64 // unix nanos of the last close→open or half-open→open
}

// New builds the channel of service name; cfg's zero fields take defaults.
func New(name string, cfg Config, opts Options) *Channel {
	cfg = cfg.WithDefaults()
	if opts.SlotWait <= 0 {
		opts.SlotWait = 50 * time.Millisecond
	}
	if opts.BusyDelay <= 0 {
		opts.BusyDelay = 250 * time.Millisecond
	}
	c := &Channel{name: name, cfg: cfg, opts: opts, slots: make(chan struct{}, cfg.Capacity)}
	c.client = &http.Client{Transport: newTransport(cfg.Capacity)}
	c.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](c.breakerSettings())
	return c
}

// newTransport keeps as many idle connections as the capacity allows
// calls, so a busy channel reuses its connections instead of opening one
// per call.
func newTransport(capacity int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(100, capacity)
	t.MaxIdleConnsPerHost = max(2, capacity)
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}

func (c *Channel) breakerSettings() gobreaker.Settings {
	b := c.cfg.Breaker
	return gobreaker.Settings{
		Name:         c.name,
		MaxRequests:  1, // half-open lets one call through
		Interval:     b.Window,
		BucketPeriod: max(b.Window/10, time.Millisecond),
		Timeout:      b.CoolDown,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			if int(n.ConsecutiveFailures) >= b.ConsecutiveFailures {
				return true
			}
			return int(n.Requests) >= b.MinRequests && float64(n.TotalFailures) >= b.FailureRatio*float64(n.Requests)
		},
		// A permanent failure (4xx, a bad answer) came from a service
		// that is up: it does not count against the breaker.
		IsSuccessful: func(err error) bool { return err == nil || events.IsPermanent(err) },
		// A call cut short by our own shutdown says nothing about the service.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				c.openedAt.Store(time.Now().UnixNano())
			}
			if c.opts.OnStateChange != nil {
				c.opts.OnStateChange(name, stateName(from), stateName(to))
			}
		},
	}
}

func stateName(s gobreaker.State) wire.BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return wire.BreakerOpen
	case gobreaker.StateHalfOpen:
		return wire.BreakerHalfOpen
	}
	return wire.BreakerClosed
}

// Name is the service's name.
func (c *Channel) Name() string { return c.name }

// Config is the service's configuration, defaults filled.
func (c *Channel) Config() Config { return c.cfg }

// Capacity is the most calls in flight at once.
func (c *Channel) Capacity() int { return c.cfg.Capacity }

// State is the breaker's state: closed, half-open or open.
func (c *Channel) State() wire.BreakerState { return stateName(c.breaker.State()) }

// Busy is why a message was not admitted, and how long it should wait.
type Busy struct {
	Service string
	Reason  string // "breaker open", "breaker half-open", "saturated"
	Delay   time.Duration
}

func (b *Busy) Error() string {
	return fmt.Sprintf("service %s: %s, retry in %s", b.Service, b.Reason, b.Delay.Round(time.Millisecond))
}

// Admit reserves a slot and asks the breaker for one call. It fails with
// a *Busy at once when the breaker is open, or after SlotWait when every
// slot is taken. The ticket must be used (Do) or given back (Cancel).
func (c *Channel) Admit(ctx context.Context) (*Ticket, error) {
	if c.State() == wire.BreakerOpen {
		return nil, c.openBusy()
	}
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	done, err := c.breaker.Allow()
	if err != nil {
		<-c.slots
		if errors.Is(err, gobreaker.ErrTooManyRequests) {
			// Half-open: the one probe call is under way.
			return nil, &Busy{Service: c.name, Reason: "breaker half-open", Delay: jitter(min(c.cfg.Breaker.CoolDown, time.Second))}
		}
		return nil, c.openBusy()
	}
	return &Ticket{ch: c, done: done}, nil
}

func (c *Channel) acquire(ctx context.Context) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(c.opts.SlotWait)
	defer t.Stop()
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-t.C:
		return &Busy{Service: c.name, Reason: "saturated", Delay: jitter(c.opts.BusyDelay)}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// openBusy waits out the rest of the cool-down.
func (c *Channel) openBusy() *Busy {
	left := c.cfg.Breaker.CoolDown - time.Since(time.Unix(0, c.openedAt.Load()))
	return &Busy{Service: c.name, Reason: "breaker open", Delay: jitter(max(left, 10*time.Millisecond))}
}

// jitter spreads d by up to +20%, so messages that waited together do
// not all come back in the same instant.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// probePause is how long Paused asks a half-open breaker's loops to wait
// while its one probe call is under way.
const probePause = 50 * time.Millisecond

// Paused is how long the service's consume loops should pull nothing
// (consume.Loop.Pause): the rest of the cool-down while the breaker is
// open, a short while when it is half-open and its one probe call is
// under way, else 0. A message pulled then could only be handed back.
func (c *Channel) Paused() time.Duration {
	switch c.breaker.State() {
	case gobreaker.StateOpen:
		return max(c.cfg.Breaker.CoolDown-time.Since(time.Unix(0, c.openedAt.Load())), time.Millisecond)
	case gobreaker.StateHalfOpen:
		if c.breaker.Counts().Requests > 0 {
			return probePause
		}
	}
	return 0
}

// InFlight is how many calls hold a slot now.
func (c *Channel) InFlight() int { return len(c.slots) }

// Ticket is one admitted call.
type Ticket struct {
	ch   *Channel
	done func(error)
	once sync.Once
}

// Do makes the call with the service's URL, timeout and auth header,
// reports its outcome to the breaker and frees the slot.
func (t *Ticket) Do(ctx context.Context, req call.Request) (call.Answer, error) {
	cfg := t.ch.cfg
	req.URL = cfg.URL + req.Path
	if cfg.Auth.IsSet() {
		req.AuthHeader, req.Auth = cfg.AuthHeader, cfg.Auth.Value()
	}
	if req.MaxResponseBytes == 0 {
		req.MaxResponseBytes = cfg.MaxResponseBytes
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	ans, err := call.Do(cctx, t.ch.client, req)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, context.Canceled) // ours, not the service's
	}
	t.finish(err)
	return ans, err
}

// Cancel gives the ticket back without a call.
func (t *Ticket) Cancel() { t.finish(context.Canceled) }

func (t *Ticket) finish(err error) {
	t.once.Do(func() {
		t.done(err)
		<-t.ch.slots
	})
}

// Status reports the channel's state now, as GET /breakers and /health
// show it.
func (c *Channel) Status() wire.Breaker {
	n := c.breaker.Counts()
	s := wire.Breaker{Service: c.name, State: c.State(), Capacity: c.cfg.Capacity, InFlight: c.InFlight(),
		Requests: n.Requests, TotalFailures: n.TotalFailures, ConsecutiveFailures: n.ConsecutiveFailures}
	if s.State != wire.BreakerClosed {
		if at := c.openedAt.Load(); at != 0 {
			s.OpenedAt = time.Unix(0, at).UTC()
		}
	}
	return s
}
