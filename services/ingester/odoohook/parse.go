package odoohook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/ingester/odooevent"
)

// maxReason bounds a validation message sent back and logged.
const maxReason = 300

// parse checks the body against schemas/odoo-webhook and the source's
// model, and reads the change from it.
func parse(body []byte, src Source) (odooevent.Change, error) {
	if err := schemas.Validate("odoo-webhook", body); err != nil {
		var ve *schemas.ValidationError
		if errors.As(err, &ve) {
			return odooevent.Change{}, errors.New(clip("not an Odoo webhook body: " + ve.Error()))
		}
		return odooevent.Change{}, errors.New("body is not JSON")
	}
	var b struct {
		Model     string          `json:"_model"`
		ID        json.Number     `json:"_id"`
		WriteDate json.RawMessage `json:"write_date"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		return odooevent.Change{}, errors.New(clip("not an Odoo webhook body: " + err.Error()))
	}
	id, err := b.ID.Int64()
	if err != nil {
		return odooevent.Change{}, fmt.Errorf("_id %s is not a record id", b.ID)
	}
	if src.Model != "" && b.Model != src.Model {
		return odooevent.Change{}, fmt.Errorf("source %s takes %s records, not %s", src.Name, src.Model, clip(b.Model))
	}
	var wd string
	_ = json.Unmarshal(b.WriteDate, &wd) // absent or false: no write_date, the id then comes from the body
	return odooevent.Change{Source: src.Name, SourceURI: src.URI, Model: b.Model, RecordID: id, WriteDate: wd,
		Body: body, ContentType: "application/json", Via: odooevent.ViaWebhook}, nil
}

func clip(s string) string {
	if len(s) <= maxReason {
		return s
	}
	return strings.ToValidUTF8(s[:maxReason], "") + "…"
}
