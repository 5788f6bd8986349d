// Package odooevent turns one change of an Odoo record into the hub's
// event, the same way whether the change arrived by an Odoo webhook action
// or by the catch-up poll, so that JetStream stores it once.
//
// The event id is derived from the change, not drawn at random: a UUIDv5
// of the source, the model, the record id and write_date cut to whole
// seconds (XML-RPC reads write_date in seconds, webhook bodies carry
// microseconds). The same change reported twice — Odoo's repeated POSTs,
// or a webhook and a poll — gets the same id and the second copy is a
// JetStream duplicate. A body without write_date gets an id from a
// SHA-256 of the body instead, which still folds identical repeats.
package odooevent

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/odoo"
)

// Type is the ce-type of every Odoo record change.
const Type = "dev.pulsehub.odoo.event"

// Headers added beside the envelope.
const (
	HeaderModel     = "Odoo-Model"      // the exact model name (the subject token turned dots into _)
	HeaderID        = "Odoo-Id"         // the record id
	HeaderSource    = "Odoo-Source"     // the configured source name
	HeaderWriteDate = "Odoo-Write-Date" // write_date as received, when present
	HeaderVia       = "Odoo-Via"        // webhook or poll
)

// How a change reached the hub.
const (
	ViaWebhook = "webhook"
	ViaPoll    = "poll"
)

// Change is one change of one Odoo record.
type Change struct {
	Source      string    // the configured source name (ingester.odoo_sources.<name>)
	SourceURI   string    // ce-source; "" = urn:pulsehub:odoo:<source>
	Model       string    // e.g. res.partner
	RecordID    int64     // the record's id
	WriteDate   string    // write_date as Odoo sent it; "" when the body has none
	Body        []byte    // the stored body
	ContentType string    // the body's media type; default application/json
	Via         string    // ViaWebhook or ViaPoll
	Received    time.Time // ce-time when write_date is absent
}

// Subject is odoo.event.<model>.<source>.
func (c Change) Subject() string { return events.OdooEventSubject(c.Model, c.Source) }

// ID is the change's event id (see the package doc).
func (c Change) ID() string {
	rec := strconv.FormatInt(c.RecordID, 10)
	if c.WriteDate != "" {
		return events.StableID("odoo", c.Source, c.Model, rec, "write_date", Seconds(c.WriteDate))
	}
	sum := sha256.Sum256(c.Body)
	return events.StableID("odoo", c.Source, c.Model, rec, "sha256", hex.EncodeToString(sum[:]))
}

// PreciseID is an id that tells apart two changes within the same second,
// from write_date's full precision; "" when write_date has no fraction
// (a poll's, or none at all), since then there is nothing finer to go by.
func (c Change) PreciseID() string {
	if !HasFraction(c.WriteDate) {
		return ""
	}
	return events.StableID("odoo", c.Source, c.Model, strconv.FormatInt(c.RecordID, 10), "write_date_precise", c.WriteDate)
}

// Event is the envelope of the change with the given id (ID or PreciseID).
func (c Change) Event(id string) events.Event {
	ct := c.ContentType
	if ct == "" {
		ct = "application/json"
	}
	src := c.SourceURI
	if src == "" {
		src = "urn:pulsehub:odoo:" + c.Source
	}
	at := c.Received
	if t, ok := odoo.ParseTime(c.WriteDate); ok {
		at = t // when it happened, not when we heard of it
	}
	h := map[string][]string{
		HeaderModel:  {c.Model},
		HeaderID:     {strconv.FormatInt(c.RecordID, 10)},
		HeaderSource: {c.Source},
	}
	if c.WriteDate != "" {
		h[HeaderWriteDate] = []string{c.WriteDate}
	}
	if c.Via != "" {
		h[HeaderVia] = []string{c.Via}
	}
	return events.Event{
		ID:            id,
		Source:        src,
		Type:          Type,
		Subject:       c.Model + "/" + strconv.FormatInt(c.RecordID, 10),
		Time:          at.UTC(),
		ContentType:   ct,
		CorrelationID: id,
		Header:        h,
		Data:          c.Body,
	}
}

// Seconds cuts an Odoo datetime to whole seconds ("2026-11-22
// 05:14:39.350509" → "2026-11-22 05:14:39"); a value that is not a
// datetime is returned as it is.
func Seconds(writeDate string) string {
	t, ok := odoo.ParseTime(writeDate)
	if !ok {
		return writeDate
	}
	return odoo.FormatTime(t)
}

// HasFraction reports whether an Odoo datetime carries a fraction of a second.
func HasFraction(writeDate string) bool {
	_, frac, ok := strings.Cut(writeDate, ".")
	return ok && strings.Trim(frac, "0") != ""
}
