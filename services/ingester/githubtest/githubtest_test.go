package githubtest_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/insightpulse/pulsehub/services/ingester/githubtest"
	"github.com/insightpulse/pulsehub/services/ingester/reconcile"
)

func client(t *testing.T, s *githubtest.Server) *github.AppsService {
	t.Helper()
	c, err := reconcile.NewClient(s.AppID, s.KeyPEM, s.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Apps
}

func ago(d time.Duration) time.Time { return time.Now().UTC().Add(-d).Truncate(time.Second) }

// The fake refuses what GitHub refuses, the way GitHub does.
func TestTheFakeIsAsStrictAsGitHub(t *testing.T) {
	s := githubtest.New(t, 99)
	old := s.Add(githubtest.Delivery{GUID: "old", DeliveredAt: ago(72*time.Hour + 30*time.Minute), Event: "push"})
	purged := s.Add(githubtest.Delivery{GUID: "purged", DeliveredAt: ago(74 * time.Hour), Event: "push"})
	fresh := s.Add(githubtest.Delivery{GUID: "fresh", DeliveredAt: ago(time.Hour), Event: "push"})
	apps := client(t, s)

	ds, resp, err := apps.ListHookDeliveries(t.Context(), &github.ListCursorOptions{PerPage: 100})
	if err != nil || len(ds) != 2 || ds[0].GetGUID() != "fresh" || ds[1].GetGUID() != "old" {
		t.Fatalf("list: %v %v (past retention, still listed for an hour; purged, not)", ds, err)
	}
	if resp.Rate.Limit != githubtest.DefaultRateLimit || resp.Rate.Remaining != githubtest.DefaultRateLimit-1 || resp.Rate.Reset.IsZero() {
		t.Fatalf("rate limit headers: %+v", resp.Rate)
	}
	for _, id := range []int64{old.ID, purged.ID, 1} {
		_, _, err := apps.RedeliverHookDelivery(t.Context(), id)
		var answer *github.ErrorResponse
		if !errors.As(err, &answer) || answer.Response.StatusCode != http.StatusUnprocessableEntity || answer.DocumentationURL != githubtest.DocRedeliver {
			t.Fatalf("redeliver %d: %v, want 422 with a documentation_url", id, err)
		}
	}
	if _, _, err := apps.RedeliverHookDelivery(t.Context(), fresh.ID); !errors.As(err, new(*github.AcceptedError)) {
		t.Fatalf("redeliver fresh: %v, want 202", err)
	}
	s.Wait()
	// The new attempt is listed only after the list delay.
	if ds, _, _ := apps.ListHookDeliveries(t.Context(), &github.ListCursorOptions{PerPage: 100}); len(ds) != 2 {
		t.Fatalf("the redelivery was listed at once: %d deliveries", len(ds))
	}
	s.SetClock(func() time.Time { return time.Now().Add(githubtest.DefaultListDelay) })
	if ds, _, _ := apps.ListHookDeliveries(t.Context(), &github.ListCursorOptions{PerPage: 100}); len(ds) != 3 || !ds[0].GetRedelivery() {
		t.Fatalf("after the list delay: %v", ds)
	}
}

func TestTheFakeChecksTheJWTsTimeClaimsByItsClock(t *testing.T) {
	for _, c := range []struct {
		skew time.Duration
		want string
	}{{-time.Minute, githubtest.MessageIssuedAt}, {2 * time.Minute, githubtest.MessageExpired}} {
		s := githubtest.New(t, 99)
		s.SetClock(func() time.Time { return time.Now().Add(c.skew) })
		_, _, err := client(t, s).ListHookDeliveries(t.Context(), nil)
		var answer *github.ErrorResponse
		if !errors.As(err, &answer) || answer.Response.StatusCode != http.StatusUnauthorized || answer.Message != c.want {
			t.Errorf("GitHub's clock %s: %v, want 401 %q", c.skew, err, c.want)
		}
	}
}

func TestTheFakesRateLimits(t *testing.T) {
	s := githubtest.New(t, 99)
	apps := client(t, s)
	s.SetRateLimit(10, 10, time.Now().Add(time.Hour))
	_, _, err := apps.ListHookDeliveries(t.Context(), nil)
	var rate *github.RateLimitError
	if !errors.As(err, &rate) || rate.Rate.Remaining != 0 {
		t.Fatalf("spent budget: %v, want go-github's RateLimitError", err)
	}

	s = githubtest.New(t, 99)
	apps = client(t, s)
	d := s.Add(githubtest.Delivery{GUID: "a", DeliveredAt: ago(time.Minute), Event: "push"})
	s.SetSecondaryLimit(1, http.StatusForbidden, 90*time.Second)
	if _, _, err := apps.RedeliverHookDelivery(t.Context(), d.ID); !errors.As(err, new(*github.AcceptedError)) {
		t.Fatalf("first: %v", err)
	}
	_, _, err = apps.RedeliverHookDelivery(t.Context(), d.ID)
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.RetryAfter == nil || *abuse.RetryAfter != 90*time.Second {
		t.Fatalf("second within a minute: %v, want a secondary rate limit with Retry-After", err)
	}

	s = githubtest.New(t, 99)
	s.SecondaryLimitNext(1, http.StatusTooManyRequests, 30*time.Second)
	_, _, err = client(t, s).ListHookDeliveries(t.Context(), nil)
	var answer *github.ErrorResponse
	if !errors.As(err, &answer) || answer.Response.StatusCode != http.StatusTooManyRequests ||
		answer.Response.Header.Get("Retry-After") != strconv.Itoa(30) {
		t.Fatalf("429: %v", err)
	}
	s.Wait()
}
