package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/healthmon/ops"
	"github.com/insightpulse/pulsehub/services/healthmon/page"
)

// maxLetters is the most dead letters one list page reads; maxBulk the
// most one "requeue all" requeues (the rest: press it again).
const (
	maxLetters = 500
	maxBulk    = 10_000
)

// DLQPage is the dead-letter list's data.
type DLQPage struct {
	Routes  []page.Route // routes with their DLQ depth (from the monitor's last probe)
	Route   string       // the route shown; "" = all
	Letters []Letter
	Limited bool // more dead letters than shown
	Err     string
}

// Letter is a dead letter as a list row or its page shows it.
type Letter struct {
	ops.DeadLetter
	Preview Preview
	Headers []Header
}

// Header is one header of a dead letter, for its page.
type Header struct{ Name, Value string }

func (c *Console) dlqPage(r *http.Request, _ *session) (string, frame, int) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	p := DLQPage{Route: field(r, "route")}
	if p.Route != "" && events.CheckName("route", p.Route) != nil {
		p.Route = ""
	}
	for _, rt := range c.src.View().Routes {
		if rt.DLQDepth > 0 || rt.Route == p.Route {
			p.Routes = append(p.Routes, rt)
		}
	}
	list, err := ops.ListDLQ(ctx, c.js, p.Route, maxLetters+1)
	if err != nil {
		p.Err = err.Error()
	}
	if len(list) > maxLetters {
		list, p.Limited = list[:maxLetters], true
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Seq > list[j].Seq }) // newest first
	for _, d := range list {
		p.Letters = append(p.Letters, Letter{DeadLetter: d, Preview: preview(d.Data, maxRowPreview)})
	}
	return "dlq", frame{Title: "Dead letters", Nav: "dlq", Page: p}, http.StatusOK
}

func (c *Console) letterPage(r *http.Request, _ *session) (string, frame, int) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		return "done", frame{Title: "Dead letter", Nav: "dlq", Error: "a dead letter is named by its DLQ sequence, a number"}, http.StatusNotFound
	}
	d, err := ops.GetDLQ(ctx, c.js, seq)
	if err != nil {
		return "done", frame{Title: "Dead letter", Nav: "dlq", Error: err.Error(), Page: Done{Back: "/console/dlq"}}, http.StatusNotFound
	}
	l := Letter{DeadLetter: d, Preview: preview(d.Data, maxPreview)}
	names := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range d.Headers[k] {
			l.Headers = append(l.Headers, Header{Name: k, Value: clip(v, 1024)})
		}
	}
	return "letter", frame{Title: fmt.Sprintf("Dead letter %d", seq), Nav: "dlq", Page: l}, http.StatusOK
}

func (c *Console) requeueLetter(w http.ResponseWriter, r *http.Request, s *session) {
	raw := r.PathValue("seq")
	seq, perr := strconv.ParseUint(raw, 10, 64)
	c.act(w, r, s, "dlq-requeue", clip(raw, 24), "/console/dlq", func(ctx context.Context) (string, error) {
		if perr != nil {
			return "", errors.New("a dead letter is named by its DLQ sequence, a number")
		}
		d, err := ops.GetDLQ(ctx, c.js, seq)
		if err != nil {
			return "", err
		}
		out, err := ops.Requeue(ctx, c.js, []ops.DeadLetter{d}, false)
		if err != nil || len(out) == 0 {
			return "", err
		}
		q := out[0]
		return fmt.Sprintf("requeued dead letter %d to %s for route %s (%s seq %d)", q.DLQSeq, q.Subject, q.Route, q.Stream, q.Seq), nil
	})
}

// ConfirmPage asks before a bulk action on a route's dead letters.
type ConfirmPage struct {
	Route string
	Op    string // requeue or purge
	Count uint64 // dead letters of the route now
}

func routeOp(r *http.Request) (route, op string, err error) {
	route, op = r.PathValue("route"), r.PathValue("op")
	if err := events.CheckName("route", route); err != nil {
		return "", "", err
	}
	if op != "requeue" && op != "purge" {
		return "", "", fmt.Errorf("unknown action %.20q: requeue or purge", op)
	}
	return route, op, nil
}

func (c *Console) confirmPage(r *http.Request, _ *session) (string, frame, int) {
	route, op, err := routeOp(r)
	if err != nil {
		return "done", frame{Title: "Dead letters", Nav: "dlq", Error: err.Error()}, http.StatusNotFound
	}
	p := ConfirmPage{Route: route, Op: op}
	for _, rt := range c.src.View().Routes {
		if rt.Route == route {
			p.Count = rt.DLQDepth
		}
	}
	return "confirm", frame{Title: "Confirm", Nav: "dlq", Page: p}, http.StatusOK
}

// routeLetters requeues or purges every dead letter of a route. Without
// confirm=yes (the confirmation page's button) it only shows that page.
func (c *Console) routeLetters(w http.ResponseWriter, r *http.Request, s *session) {
	route, op, err := routeOp(r)
	if err != nil {
		c.render(w, http.StatusNotFound, "done", frame{Title: "Dead letters", User: s.user, CSRF: s.csrf, Error: err.Error()})
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		http.Redirect(w, r, "/console/dlq/route/"+url.PathEscape(route)+"/"+op, http.StatusSeeOther)
		return
	}
	back := "/console/dlq?route=" + url.QueryEscape(route)
	if op == "purge" {
		c.act(w, r, s, "dlq-purge-route", route, back, func(ctx context.Context) (string, error) {
			n, err := ops.PurgeDLQ(ctx, c.js, route)
			return fmt.Sprintf("purged %d dead letters of route %s", n, route), err
		})
		return
	}
	c.act(w, r, s, "dlq-requeue-route", route, back, func(ctx context.Context) (string, error) {
		list, err := ops.ListDLQ(ctx, c.js, route, maxBulk)
		if err != nil {
			return "", err
		}
		out, err := ops.Requeue(ctx, c.js, list, false)
		done := fmt.Sprintf("requeued %d dead letters of route %s", len(out), route)
		if len(list) == maxBulk {
			done += fmt.Sprintf(" (at most %d at a time: requeue again for the rest)", maxBulk)
		}
		return done, err
	})
}
