package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/healthmon/ops"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
)

// RoutesPage is the routes' data.
type RoutesPage struct {
	Routes []RouteRow
}

// RouteRow is one route with its last hour.
type RouteRow struct {
	page.Route
	Spark    template.HTML // the throughput sparkline, an inline SVG made here from numbers only
	LastHour uint64        // deliveries settled over the samples kept
	PerMin   float64       // over the last sample interval
}

func (c *Console) routesPage(_ *http.Request, _ *session) (string, frame, int) {
	v := c.src.View()
	p := RoutesPage{}
	for _, rt := range v.Routes {
		h := c.src.History(rt.Route)
		row := RouteRow{Route: rt}
		row.Spark, row.LastHour, row.PerMin = sparkline(h, v.GeneratedAt)
		p.Routes = append(p.Routes, row)
	}
	return "routes", frame{Title: "Routes", Nav: "routes", Page: p}, http.StatusOK
}

// Sparkline geometry and buckets: 60 one-minute buckets over the last hour.
const (
	sparkW, sparkH = 240, 36
	buckets        = 60
)

// sparkline draws the deliveries settled per minute over the hour before
// now as an SVG polyline. It writes only numbers it formats itself, so
// the markup is safe to embed as is.
func sparkline(h []page.Sample, now time.Time) (template.HTML, uint64, float64) {
	var counts [buckets]float64
	var total uint64
	var perMin float64
	for i := 1; i < len(h); i++ {
		a, b := h[i-1], h[i]
		if b.Acked < a.Acked { // the consumer was recreated: its sequence started over
			continue
		}
		d := b.Acked - a.Acked
		total += d
		age := now.Sub(b.At)
		k := buckets - 1 - int(age/time.Minute)
		if k >= 0 && k < buckets {
			counts[k] += float64(d)
		}
		if i == len(h)-1 {
			if secs := b.At.Sub(a.At).Seconds(); secs > 0 {
				perMin = float64(d) / secs * 60
			}
		}
	}
	peak := 0.0
	for _, n := range counts {
		peak = max(peak, n)
	}
	var pts strings.Builder
	for i, n := range counts {
		x := float64(i) * float64(sparkW-2) / float64(buckets-1)
		y := float64(sparkH - 2)
		if peak > 0 {
			y = float64(sparkH-2) - n/peak*float64(sparkH-4)
		}
		fmt.Fprintf(&pts, "%.1f,%.1f ", x+1, y)
	}
	svg := fmt.Sprintf(`<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="settled per minute over the last hour, peak %.0f"><polyline fill="none" stroke="#0969da" stroke-width="1.5" points="%s"/></svg>`,
		sparkW, sparkH, sparkW, sparkH, peak, strings.TrimSpace(pts.String()))
	return template.HTML(svg), total, perMin // #nosec G203: numbers formatted above, nothing from outside
}

// ReplayPage shows a replay's dry run, and asks before it runs.
type ReplayPage struct {
	Route   string
	Since   string
	FromSeq string
	Plan    ops.ReplayPlan
	Ran     bool
}

// maxReplaySince bounds the since field: streams keep 90 days at most.
const maxReplaySince = 366 * 24 * time.Hour

// replay plans a replay from the form (a dry run: how many messages), or,
// with run=yes (the plan page's button), starts it.
func (c *Console) replay(w http.ResponseWriter, r *http.Request, s *session) {
	route := r.PathValue("route")
	p := ReplayPage{Route: route, Since: clipRaw(r.PostForm.Get("since"), 32), FromSeq: clipRaw(r.PostForm.Get("from_seq"), 32)}
	req, err := replayRequest(route, p.Since, p.FromSeq)
	if err != nil {
		c.render(w, http.StatusBadRequest, "done", frame{Title: "Replay", Nav: "routes", User: s.user, CSRF: s.csrf, Error: err.Error(),
			Page: Done{Back: "/console/routes"}})
		return
	}
	if r.PostForm.Get("run") != "yes" {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		req.DryRun = true
		p.Plan, err = ops.Replay(ctx, c.js, req)
		if err != nil {
			c.render(w, http.StatusConflict, "done", frame{Title: "Replay", Nav: "routes", User: s.user, CSRF: s.csrf, Error: err.Error(),
				Page: Done{Back: "/console/routes"}})
			return
		}
		c.render(w, http.StatusOK, "replay", frame{Title: "Replay " + route, Nav: "routes", User: s.user, CSRF: s.csrf, Page: p})
		return
	}
	c.act(w, r, s, "replay", route, "/console/routes", func(ctx context.Context) (string, error) {
		plan, err := ops.Replay(ctx, c.js, req)
		return fmt.Sprintf("replaying %d messages of %s (sequences %d..%d) to route %s", plan.Count, plan.Stream, plan.StartSeq, plan.EndSeq, route), err
	})
}

func replayRequest(route, since, fromSeq string) (ops.ReplayRequest, error) {
	req := ops.ReplayRequest{Route: route}
	if err := events.CheckName("route", route); err != nil {
		return req, err
	}
	switch {
	case since != "" && fromSeq != "":
		return req, errors.New("give either since or from sequence, not both")
	case since != "":
		d, err := time.ParseDuration(since)
		if err != nil || d <= 0 || d > maxReplaySince {
			return req, fmt.Errorf("since: want a duration such as 30m or 2h (at most %s)", maxReplaySince)
		}
		req.Since = d
	case fromSeq != "":
		n, err := strconv.ParseUint(fromSeq, 10, 64)
		if err != nil || n == 0 {
			return req, errors.New("from sequence: want a stream sequence, a number from 1")
		}
		req.FromSeq = n
	default:
		return req, errors.New("say where to start: since (e.g. 2h) or from sequence")
	}
	return req, nil
}
