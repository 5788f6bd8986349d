// Package healthtest holds what healthmon's tests share: a stuck route in a
// real JetStream, and the rows of the status page's tables read back from
// its HTML.
package healthtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/nats-io/nats.go/jetstream"
)

// StuckRoute makes route on stream ODOO (the hub's streams must exist)
// with five messages, of which two are delivered and never acked, leaving
// 3 pending and 2 awaiting ack, and one dead letter in DLQ.
func StuckRoute(tb testing.TB, js jetstream.JetStream, route string) {
	tb.Helper()
	ctx := context.Background()
	c, err := stream.EnsureConsumer(ctx, js, stream.ConsumerOptions{Name: route, Stream: events.StreamOdoo, Subjects: []string{"odoo.event.>"}})
	if err != nil {
		tb.Fatal(err)
	}
	subject := events.OdooEventSubject("sale.order", "shop")
	for i := 0; i < 5; i++ {
		if _, err := js.Publish(ctx, subject, []byte(`{}`)); err != nil {
			tb.Fatal(err)
		}
	}
	batch, err := c.Fetch(2, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	for range batch.Messages() { // taken, never acked
	}
	if _, err := js.Publish(ctx, events.DLQSubject(route, subject), []byte(`{}`)); err != nil {
		tb.Fatal(err)
	}
}

// Rows maps each table row of the status page to its cells' text (white
// space folded): "target:<name>" for a target, "route:<name>" for a route.
func Rows(doc *html.Node) map[string][]string {
	out := map[string][]string{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			for _, a := range n.Attr {
				if a.Key == "data-target" || a.Key == "data-route" {
					out[strings.TrimPrefix(a.Key, "data-")+":"+a.Val] = cells(n)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func cells(tr *html.Node) []string {
	var out []string
	for td := tr.FirstChild; td != nil; td = td.NextSibling {
		if td.Type == html.ElementNode && td.Data == "td" {
			out = append(out, strings.Join(strings.Fields(text(td)), " "))
		}
	}
	return out
}

func text(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(text(c) + " ")
	}
	return b.String()
}
