package reconcile

import (
	"sort"

	"github.com/google/go-github/v60/github"
)

// failure is one delivery GUID none of whose attempts succeeded.
type failure struct {
	guid     string
	latest   *github.HookDelivery // the attempt redelivered
	attempts int
	refused  bool // every attempt was answered 400, 413 or 415
}

// failures groups the attempts by GUID and returns the GUIDs with no
// successful (2xx) attempt, oldest first.
func failures(ds []*github.HookDelivery) []failure {
	byGUID := map[string]*failure{}
	succeeded := map[string]bool{}
	var order []string
	for _, d := range ds {
		guid := d.GetGUID()
		if guid == "" {
			continue
		}
		if ok2xx(d.GetStatusCode()) {
			succeeded[guid] = true
		}
		f, seen := byGUID[guid]
		if !seen {
			f = &failure{guid: guid, latest: d, refused: true}
			byGUID[guid] = f
			order = append(order, guid)
		}
		f.attempts++
		f.refused = f.refused && refusedForGood(d.GetStatusCode())
		if d.GetDeliveredAt().After(f.latest.GetDeliveredAt().Time) ||
			(d.GetDeliveredAt().Equal(f.latest.GetDeliveredAt()) && d.GetID() > f.latest.GetID()) {
			f.latest = d
		}
	}
	var out []failure
	for _, guid := range order {
		if !succeeded[guid] {
			out = append(out, *byGUID[guid])
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].latest.GetDeliveredAt().Before(out[j].latest.GetDeliveredAt().Time) })
	return out
}

// worthRedelivering is false when the ingester refused every attempt for
// good: a malformed body (400), one over the limit (413) or of a content
// type it does not take (415) is refused again, whatever GitHub sends.
// Timeouts (status 0), 401 (a secret being rotated), 5xx and the rest are
// asked again.
func (f failure) worthRedelivering() bool { return !f.refused }

func ok2xx(code int) bool { return code >= 200 && code < 300 }

func refusedForGood(code int) bool { return code == 400 || code == 413 || code == 415 }
