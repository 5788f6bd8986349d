// Package odoopoll catches up the Odoo changes a webhook lost. Odoo sends
// a webhook once, after commit, with a 1 s timeout and no retry: while the
// hub is down or slow those events are gone. For each source with a poll,
// the poller reads the records of the source's model changed since its
// checkpoint (search_read over the shared Odoo client, in pages, oldest
// first) and publishes each on the same subject with the same event id the
// webhook would have used (package odooevent), so a change that came both
// ways is stored once.
//
// Every pass starts a little before its checkpoint (Overlap): a
// transaction that committed late carries a write_date older than its
// commit, and re-reading costs only duplicates that JetStream drops.
package odoopoll

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/ingester/checkpoint"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/odooevent"
)

// Defaults for the zero values of Source.
const (
	DefaultInterval = time.Minute
	DefaultPageSize = 200
	DefaultOverlap  = time.Minute
	DefaultLookback = time.Hour
)

// Source is one Odoo source's poll.
type Source struct {
	Name     string        // the source's name: subject token and checkpoint key
	Model    string        // the model read
	URI      string        // ce-source; "" = urn:pulsehub:odoo:<name>
	Fields   []string      // the fields read and published; must include write_date
	Interval time.Duration // between passes; default 1m
	PageSize int           // records per search_read; default 200
	Overlap  time.Duration // each pass re-reads this far before its checkpoint; default 1m
	Lookback time.Duration // the first pass (no checkpoint yet) starts this far back; default 1h
}

// Mark is a source's checkpoint (key odoo-poll.<source>).
type Mark struct {
	WriteDate string    `json:"write_date"` // Odoo UTC datetime: every change before it has been published
	Published int       `json:"published"`  // events stored (not duplicates) by the last pass
	At        time.Time `json:"at"`         // when the last pass ended
}

// Key is the checkpoint key of a source.
func Key(source string) string { return "odoo-poll." + source }

// Poller runs one source's poll.
type Poller struct {
	Source      Source
	Odoo        Reader            // the instance's client
	Publish     *intake.Publisher // stores the changes
	Checkpoints *checkpoint.Store // where the mark is kept
	Log         *slog.Logger
	Metrics     *Metrics         // may be nil
	Now         func() time.Time // default time.Now
}

// Run polls at once and then every Interval until ctx is done. A failed
// pass is logged and counted; the next one starts from the last checkpoint.
func (p *Poller) Run(ctx context.Context) error {
	interval := cmp.Or(p.Source.Interval, DefaultInterval)
	p.Log.Info("odoo poll started", "odoo_source", p.Source.Name, "odoo_model", p.Source.Model, "interval", interval.String())
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			p.Metrics.failed(p.Source.Name)
			p.Log.Warn("odoo poll failed; the next pass resumes from the checkpoint",
				"odoo_source", p.Source.Name, "odoo_model", p.Source.Model, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll runs one pass and returns how many changes it stored (duplicates
// not counted).
func (p *Poller) Poll(ctx context.Context) (int, error) {
	var m Mark
	found, err := p.Checkpoints.Load(ctx, Key(p.Source.Name), &m)
	if err != nil {
		return 0, err
	}
	began, overlap := p.now(), cmp.Or(p.Source.Overlap, DefaultOverlap)
	start := began.Add(-cmp.Or(p.Source.Lookback, DefaultLookback))
	if t, ok := odoo.ParseTime(m.WriteDate); found && ok {
		start = t.Add(-overlap)
	}
	pageSize := p.Source.PageSize
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	stored := 0
	reached, scanErr := scan(ctx, p.Odoo, p.Source.Model, p.Source.Fields, pageSize, start,
		func(r odoo.Record) error {
			dup, err := p.publish(ctx, r)
			if err == nil && !dup {
				stored++
			}
			return err
		})
	if prev, ok := odoo.ParseTime(m.WriteDate); found && ok && prev.After(reached) {
		reached = prev // a pass that failed inside the overlap does not move the mark back
	}
	if quiet := began.Add(-overlap).UTC().Truncate(time.Second); scanErr == nil && quiet.After(reached) {
		// Everything committed before the pass began has been read: move
		// the mark on even when nothing changed, so a quiet source does not
		// re-read its last change until JetStream forgets it was stored.
		reached = quiet
	}
	next := Mark{WriteDate: odoo.FormatTime(reached), Published: stored, At: p.now().UTC()}
	if err := p.Checkpoints.Save(ctx, Key(p.Source.Name), next); err != nil && scanErr == nil {
		scanErr = err
	}
	p.Metrics.pass(p.Source.Name, reached)
	if stored > 0 {
		p.Log.Info("odoo poll caught up changes the webhook missed", "odoo_source", p.Source.Name,
			"odoo_model", p.Source.Model, "stored", stored, "checkpoint", next.WriteDate)
	}
	return stored, scanErr
}

// publish stores one record read by the poll; dup is true when JetStream
// already held the change (the webhook got it, or an earlier pass).
func (p *Poller) publish(ctx context.Context, r odoo.Record) (dup bool, err error) {
	body, err := Body(p.Source.Name, p.Source.Model, r)
	if err != nil {
		return false, err
	}
	c := odooevent.Change{Source: p.Source.Name, SourceURI: p.Source.URI, Model: p.Source.Model, RecordID: r.ID(),
		WriteDate: r.String("write_date"), Body: body, Via: odooevent.ViaPoll, Received: p.now()}
	a, err := p.Publish.Publish(ctx, c.Subject(), c.Event(c.ID()))
	if err != nil {
		return false, fmt.Errorf("odoo poll %s: %s/%d: %w", p.Source.Name, c.Model, c.RecordID, err)
	}
	p.Metrics.event(p.Source.Name, a.Duplicate)
	return a.Duplicate, nil
}

// Body is the JSON a polled record is stored as: the shape of an Odoo
// webhook body (_action, _id, _model and the fields, many2one as a bare
// id), so one route reads events from both paths alike.
func Body(source, model string, r odoo.Record) ([]byte, error) {
	out := make(map[string]any, len(r)+3)
	for k, v := range r {
		out[k] = bareMany2One(v)
	}
	out["_id"] = r.ID()
	out["_model"] = model
	out["_action"] = "Pulse Hub poll(" + source + ")"
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("odoo poll %s: encode %s/%d: %w", source, model, r.ID(), err)
	}
	return b, nil
}

// bareMany2One turns search_read's many2one [id, "name"] into the bare id
// a webhook body carries. An x2many is a list of ids only, never a string.
func bareMany2One(v any) any {
	l, ok := v.([]any)
	if !ok || len(l) != 2 {
		return v
	}
	if _, isName := l[1].(string); !isName {
		return v
	}
	return l[0]
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}
