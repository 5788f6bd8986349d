package odoo_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
)

// authCalls counts the authentications a transport makes.
func authCalls(s *odootest.Server) int { return s.Calls("authenticate") + s.Calls("context_get") }

func TestOneReauthenticationThenRetry(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		ctx := context.Background()
		if _, err := c.SearchCount(ctx, "res.partner", nil); err != nil {
			t.Fatal(err)
		}
		s.FailNext(1, odootest.Fault(3, "Access Denied").For("search_count"))
		if _, err := c.SearchCount(ctx, "res.partner", nil); err != nil {
			t.Fatalf("one denial then a fresh session: %v", err)
		}
		if n := authCalls(s); n != 2 {
			t.Errorf("authenticated %d times, want 2", n)
		}
		s.FailNext(2, odootest.Fault(3, "Access Denied").For("search_count"))
		_, err := c.SearchCount(ctx, "res.partner", nil)
		if mustFault(t, err, false); !odoo.IsAccessDenied(err) {
			t.Errorf("err = %v", err)
		}
		if n, calls := authCalls(s), s.Calls("search_count"); n != 3 || calls != 5 {
			t.Errorf("%d authentications and %d calls, want 3 and 5", n, calls)
		}
	})
}

func TestRotatedCredentialsArePermanentAfterOneReauthentication(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		ctx := context.Background()
		if _, err := c.Authenticate(ctx); err != nil {
			t.Fatal(err)
		}
		s.SetPassword(odootest.AdminLogin, "rotated")
		s.RevokeKey(odootest.AdminAPIKey)
		_, err := c.Search(ctx, "res.partner", nil, odoo.SearchOptions{})
		f := mustFault(t, err, false)
		if !odoo.IsAccessDenied(err) || !strings.Contains(f.Message, "credentials were rejected") {
			t.Errorf("err = %v", err)
		}
		if n := authCalls(s); n != 2 {
			t.Errorf("authenticated %d times, want 2 (one re-authentication)", n)
		}
	})
}

func TestConcurrentCallsAuthenticateOnce(t *testing.T) {
	forEachTransport(t, func(t *testing.T, s *odootest.Server, c *odoo.Client) {
		s.SetLatency(odootest.Latency{PerCall: 5 * time.Millisecond})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := c.SearchCount(context.Background(), "res.partner", nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := authCalls(s); n != 1 {
			t.Errorf("authenticated %d times", n)
		}
	})
}

// TestSecretNeverLeaks drives every kind of failure with a logger at debug
// level and checks that neither an error string nor a log line holds the
// password or API key, even when Odoo echoes it back.
func TestSecretNeverLeaks(t *testing.T) {
	const secret = "S3cr3t-Key-0f-the-bot"
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			s := odootest.New(t)
			if _, err := s.AddUser(odootest.User{Login: "bot", Password: secret, APIKeys: []string{secret}}); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg := s.Config(tr)
			cfg.Login, cfg.Password, cfg.Timeout = "bot", config.NewSecret(secret), 200*time.Millisecond
			c := newClient(t, cfg, odoo.WithLogger(logger))
			errs := driveFailures(t, s, c, secret)
			if len(errs) < 6 {
				t.Fatalf("only %d failures: %v", len(errs), errs)
			}
			for _, err := range errs {
				for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
					if strings.Contains(text, secret) {
						t.Errorf("secret in error: %s", text)
					}
				}
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("secret in logs:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), "odoo call failed") {
				t.Errorf("nothing logged:\n%s", logs.String())
			}
		})
	}
}

// driveFailures makes c fail every way it can, Odoo echoing secret back
// on the way, and returns the errors.
func driveFailures(t *testing.T, s *odootest.Server, c *odoo.Client, secret string) []error {
	t.Helper()
	ctx := context.Background()
	var errs []error
	count := func() {
		if _, err := c.SearchCount(ctx, "res.partner", nil); err != nil {
			errs = append(errs, err)
		}
	}
	count()
	if _, err := c.CreateOne(ctx, "res.partner", map[string]any{"no_such_field": secret}); err != nil {
		errs = append(errs, err)
	}
	s.FailNext(1, odootest.Fault(1, "Traceback (most recent call last):\n  File \"x\", line 1, in f\n    g()\nValueError: bad key "+secret+"\n"))
	count()
	s.FailNext(1, odootest.Hang())
	count()
	s.FailNext(1, odootest.HTTPStatus(503, time.Second))
	count()
	s.SetPassword("bot", "rotated")
	s.RevokeKey(secret)
	count()
	if err := s.SetDown(true); err != nil {
		t.Fatal(err)
	}
	count()
	return errs
}
