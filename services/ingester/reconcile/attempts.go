package reconcile

import (
	"github.com/google/go-github/v60/github"
)

// delivery is what one listing shows of a delivery GUID: all its attempts
// taken together.
type delivery struct {
	guid      string
	latest    *github.HookDelivery // the newest attempt: the one asked to be redelivered
	first     *github.HookDelivery // the oldest attempt listed
	attempts  int
	succeeded bool // an attempt got a 2xx
	rejected  bool // every attempt was answered 400, 413 or 415 by the ingester
}

// group gathers the listed attempts by GUID.
func group(ds []*github.HookDelivery) map[string]*delivery {
	out := map[string]*delivery{}
	for _, d := range ds {
		guid := d.GetGUID()
		if guid == "" {
			continue
		}
		g, seen := out[guid]
		if !seen {
			g = &delivery{guid: guid, latest: d, first: d, rejected: true}
			out[guid] = g
		}
		g.attempts++
		g.succeeded = g.succeeded || ok2xx(d.GetStatusCode())
		g.rejected = g.rejected && rejectedForGood(d.GetStatusCode())
		if newer(d, g.latest) {
			g.latest = d
		}
		if newer(g.first, d) {
			g.first = d
		}
	}
	return out
}

// newer orders attempts by delivered_at, then by id (GitHub's ids grow).
func newer(a, b *github.HookDelivery) bool {
	at, bt := a.GetDeliveredAt().Time, b.GetDeliveredAt().Time
	return at.After(bt) || (at.Equal(bt) && a.GetID() > b.GetID())
}

func ok2xx(code int) bool { return code >= 200 && code < 300 }

// rejectedForGood is an answer of the ingester that the same bytes would
// get again, whatever GitHub sends: a malformed body (400), one over the
// limit (413) or of a content type it does not take (415). Timeouts
// (status 0), 401 (a secret being rotated), 5xx and the rest are worth
// asking again.
func rejectedForGood(code int) bool { return code == 400 || code == 413 || code == 415 }
