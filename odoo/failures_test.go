package odoo_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
)

const lockTraceback = "Traceback (most recent call last):\n  File \"/opt/odoo/odoo/service/model.py\", line 184, in retrying\n    result = func()\n" +
	"psycopg2.errors.LockNotAvailable: could not obtain lock on row in relation \"project_task\"\n"

func TestInjectedFailuresClassify(t *testing.T) {
	cases := []struct {
		name       string
		failure    odootest.Failure
		transient  bool
		retryAfter time.Duration
		check      func(*odoo.Fault) bool
	}{
		{"serialization failure", odootest.SerializationFailure(), true, 0,
			func(f *odoo.Fault) bool { return f.Name == "psycopg2.errors.SerializationFailure" }},
		{"lock not available", odootest.Fault(1, lockTraceback), true, 0,
			func(f *odoo.Fault) bool { return strings.HasSuffix(f.Name, "LockNotAvailable") }},
		{"502", odootest.HTTPStatus(502, 0), true, 0, func(f *odoo.Fault) bool { return f.HTTPStatus == 502 }},
		{"503 with Retry-After", odootest.HTTPStatus(503, 7*time.Second), true, 7 * time.Second,
			func(f *odoo.Fault) bool { return f.HTTPStatus == 503 }},
		{"429 with Retry-After", odootest.HTTPStatus(429, 2*time.Second), true, 2 * time.Second,
			func(f *odoo.Fault) bool { return f.HTTPStatus == 429 }},
		{"dropped connection", odootest.DropConnection(), true, 0, func(f *odoo.Fault) bool { return f.Err != nil }},
		{"user error", odootest.Fault(2, "You cannot create recursive Partner hierarchies."), false, 0,
			func(f *odoo.Fault) bool { return f.Message == "You cannot create recursive Partner hierarchies." }},
		{"access error", odootest.Fault(4, "You are not allowed to access 'Contact' (res.partner) records."), false, 0, func(f *odoo.Fault) bool {
			return odoo.IsAccessError(f)
		}},
		{"value error", odootest.Fault(1, "Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n    g()\nValueError: Wrong value for project.task.priority: '9'\n"), false, 0,
			func(f *odoo.Fault) bool { return strings.HasSuffix(f.Name, "ValueError") }},
	}
	for _, tr := range transports {
		for _, tc := range cases {
			t.Run(tr+"/"+tc.name, func(t *testing.T) {
				s := odootest.New(t)
				c := newClient(t, s.Config(tr))
				s.FailNext(1, tc.failure.For("search"))
				_, err := c.Search(context.Background(), "res.partner", nil, odoo.SearchOptions{})
				f := mustFault(t, err, tc.transient)
				if !tc.check(f) || odoo.RetryAfter(err) != tc.retryAfter || f.RetryAfter != tc.retryAfter {
					t.Errorf("fault = %+v (retry after %s)", f, odoo.RetryAfter(err))
				}
				if _, err := c.Search(context.Background(), "res.partner", nil, odoo.SearchOptions{}); err != nil {
					t.Errorf("the call after the failure: %v", err)
				}
			})
		}
	}
}

func TestHungCallEndsAtTheContextDeadline(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		s.FailNext(1, odootest.Hang().For("search_count"))
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.SearchCount(ctx, "res.partner", nil)
		f := mustFault(t, err, true)
		if !errors.Is(err, context.DeadlineExceeded) || f.Message != "timed out" {
			t.Errorf("err = %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the call took %s", d)
		}
	})
}

func TestConfiguredTimeoutBoundsEachCall(t *testing.T) {
	s := odootest.New(t)
	cfg := s.Config(odoo.TransportXMLRPC)
	cfg.Timeout = 100 * time.Millisecond
	c := newClient(t, cfg)
	s.FailNext(1, odootest.Hang().For("search"))
	_, err := c.Search(context.Background(), "res.partner", nil, odoo.SearchOptions{})
	if mustFault(t, err, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		ctx := context.Background()
		if _, err := c.Authenticate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDown(true); err != nil {
			t.Fatal(err)
		}
		// A kept-alive JSON-2 connection may first see the close (EOF);
		// every new connection is refused.
		_, err := c.SearchCount(ctx, "res.partner", nil)
		mustFault(t, err, true)
		_, err = c.SearchCount(ctx, "res.partner", nil)
		if f := mustFault(t, err, true); f.Message != "connection refused" {
			t.Errorf("err = %v", err)
		}
		if err := s.SetDown(false); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SearchCount(ctx, "res.partner", nil); err != nil {
			t.Errorf("after the server came back: %v", err)
		}
	})
}

func TestConcurrencyIsBounded(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			s := odootest.New(t, odootest.WithLatency(odootest.Latency{PerCall: 10 * time.Millisecond}))
			cfg := s.Config(tr)
			cfg.MaxConcurrency = 2
			c := newClient(t, cfg)
			var wg sync.WaitGroup
			errs := make(chan error, 24)
			for range 8 {
				wg.Go(func() {
					for range 3 {
						_, err := c.SearchCount(context.Background(), "res.partner", nil)
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := s.MaxConcurrent(); got != 2 {
				t.Errorf("at most %d calls were in flight, want exactly 2", got)
			}
		})
	}
}

func TestWaitingForASlotRespectsTheContext(t *testing.T) {
	s := odootest.New(t)
	cfg := s.Config(odoo.TransportJSON2)
	cfg.MaxConcurrency = 1
	c := newClient(t, cfg)
	if _, err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.FailNext(1, odootest.Hang().For("search_count"))
	hungCtx, cancelHung := context.WithCancel(context.Background())
	hung := make(chan error, 1)
	go func() {
		_, err := c.SearchCount(hungCtx, "res.partner", nil)
		hung <- err
	}()
	waitCtx, cancelWait := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelWait()
	if err := s.WaitCalls(waitCtx, "search_count", 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.SearchCount(ctx, "res.partner", nil)
	if f := mustFault(t, err, true); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(f.Message, "slot") {
		t.Errorf("err = %v", err)
	}
	if n := s.Calls("search_count"); n != 1 {
		t.Errorf("%d calls reached Odoo, want 1", n)
	}
	cancelHung()
	mustFault(t, <-hung, true)
}

func TestConnectionsAreKeptAliveWhereOdooAllows(t *testing.T) {
	for _, tc := range []struct {
		transport  string
		atLeast    int
		atMost     int
		reasonText string
	}{
		{odoo.TransportXMLRPC, 10, 11, "Odoo answers XML-RPC with Connection: close"},
		{odoo.TransportJSON2, 0, 1, "JSON-2 connections are reused"},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			s := odootest.New(t)
			c := newClient(t, s.Config(tc.transport))
			if _, err := c.Authenticate(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.ResetCounters()
			for range 10 {
				if _, err := c.SearchCount(context.Background(), "res.partner", nil); err != nil {
					t.Fatal(err)
				}
			}
			if n := s.Connections(); n < tc.atLeast || n > tc.atMost {
				t.Errorf("%d connections for 10 calls (%s)", n, tc.reasonText)
			}
		})
	}
}
