package apply

import (
	"context"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/odoo"
)

// fieldInfo is what load needs to know of a field: its type.
type fieldInfo struct {
	Type     string // char, integer, many2one, ...
	Relation string // the comodel of a relational field
}

// fieldsTTL is how long a model's fields are trusted before fields_get is
// asked again (a module installed meanwhile may add fields).
const fieldsTTL = 10 * time.Minute

// fieldCache keeps each model's fields per instance.
type fieldCache struct {
	mu      sync.Mutex
	entries map[string]fieldEntry
}

type fieldEntry struct {
	fields map[string]fieldInfo
	at     time.Time
}

func newFieldCache() *fieldCache { return &fieldCache{entries: map[string]fieldEntry{}} }

// fieldsRefresh is how old a model's fields must be before a value for a
// field they lack makes the writer ask fields_get again: a wrong route
// does not cost a fields_get per batch.
const fieldsRefresh = 10 * time.Second

// modelFields returns the fields of the batch's model, asking fields_get
// when they are unknown or older than fieldsTTL, or when refresh is set
// and they are older than fieldsRefresh.
func (b *work) modelFields(ctx context.Context, refresh bool) (map[string]fieldInfo, error) {
	c := b.a.fields
	key := b.inst + "\x00" + b.model
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	age := time.Since(e.at)
	if ok && age < fieldsTTL && (!refresh || age < fieldsRefresh) {
		return e.fields, nil
	}
	v, err := b.call(ctx, b.model, "fields_get", []any{}, map[string]any{"attributes": []any{"type", "relation"}})
	if err != nil {
		return nil, err
	}
	desc, isMap := v.(map[string]any)
	if !isMap {
		return nil, events.Permanentf("fields_get answered a %T", v)
	}
	fields := make(map[string]fieldInfo, len(desc))
	for name, d := range desc {
		m, _ := d.(map[string]any)
		r := odoo.Record(m)
		fields[name] = fieldInfo{Type: r.String("type"), Relation: r.String("relation")}
	}
	c.mu.Lock()
	c.entries[key] = fieldEntry{fields: fields, at: time.Now()}
	c.mu.Unlock()
	return fields, nil
}
