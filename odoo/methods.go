package odoo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// SearchOptions page and order a search. Zero values leave Odoo's defaults.
type SearchOptions struct {
	Limit  int    // at most this many records; 0 = all
	Offset int    // skip this many records first
	Order  string // e.g. "write_date asc, id asc"; "" = the model's _order
}

func (o SearchOptions) kwargs() map[string]any {
	kw := map[string]any{}
	if o.Limit > 0 {
		kw["limit"] = o.Limit
	}
	if o.Offset > 0 {
		kw["offset"] = o.Offset
	}
	if o.Order != "" {
		kw["order"] = o.Order
	}
	return kw
}

// domainArg sends a nil domain as [] (match everything), not as false.
func domainArg(d []any) []any {
	if d == nil {
		return []any{}
	}
	return d
}

// Create creates one record per vals in one call (Odoo's create with a
// list) and returns their ids in order.
func (c *Client) Create(ctx context.Context, model string, vals []map[string]any) ([]int64, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	v, err := c.ExecuteKW(ctx, model, "create", []any{vals}, nil)
	if err != nil {
		return nil, err
	}
	if id, ok := toInt64(v); ok {
		return []int64{id}, nil
	}
	ids, ok := toIDs(v)
	if !ok {
		return nil, c.shape(model, "create", v)
	}
	return ids, nil
}

// CreateOne creates one record and returns its id.
func (c *Client) CreateOne(ctx context.Context, model string, vals map[string]any) (int64, error) {
	ids, err := c.Create(ctx, model, []map[string]any{vals})
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, c.shape(model, "create", ids)
	}
	return ids[0], nil
}

// Write sets vals on every record of ids.
func (c *Client) Write(ctx context.Context, model string, ids []int64, vals map[string]any) error {
	_, err := c.ExecuteKW(ctx, model, "write", []any{ids, vals}, nil)
	return err
}

// Unlink deletes the records of ids.
func (c *Client) Unlink(ctx context.Context, model string, ids []int64) error {
	_, err := c.ExecuteKW(ctx, model, "unlink", []any{ids}, nil)
	return err
}

// Search returns the ids of the records matching domain (nil matches all),
// e.g. []any{[]any{"x_github_issue_id", "=", 42}}.
func (c *Client) Search(ctx context.Context, model string, domain []any, opts SearchOptions) ([]int64, error) {
	v, err := c.ExecuteKW(ctx, model, "search", []any{domainArg(domain)}, opts.kwargs())
	if err != nil {
		return nil, err
	}
	ids, ok := toIDs(v)
	if !ok {
		return nil, c.shape(model, "search", v)
	}
	return ids, nil
}

// SearchRead returns the fields (nil = all) of the records matching domain.
func (c *Client) SearchRead(ctx context.Context, model string, domain []any, fields []string, opts SearchOptions) ([]Record, error) {
	kw := opts.kwargs()
	if fields != nil {
		kw["fields"] = fields
	}
	v, err := c.ExecuteKW(ctx, model, "search_read", []any{domainArg(domain)}, kw)
	if err != nil {
		return nil, err
	}
	return c.records(model, "search_read", v)
}

// Read returns the fields (nil = all) of the records of ids, in that order.
// A missing id is a permanent *Fault (IsMissingRecord).
func (c *Client) Read(ctx context.Context, model string, ids []int64, fields []string) ([]Record, error) {
	var kw map[string]any
	if fields != nil {
		kw = map[string]any{"fields": fields}
	}
	v, err := c.ExecuteKW(ctx, model, "read", []any{ids}, kw)
	if err != nil {
		return nil, err
	}
	return c.records(model, "read", v)
}

// SearchCount counts the records matching domain.
func (c *Client) SearchCount(ctx context.Context, model string, domain []any) (int64, error) {
	v, err := c.ExecuteKW(ctx, model, "search_count", []any{domainArg(domain)}, nil)
	if err != nil {
		return 0, err
	}
	n, ok := toInt64(v)
	if !ok {
		return 0, c.shape(model, "search_count", v)
	}
	return n, nil
}

func (c *Client) records(model, method string, v any) ([]Record, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, c.shape(model, method, v)
	}
	out := make([]Record, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, c.shape(model, method, e)
		}
		out = append(out, Record(m))
	}
	return out, nil
}

// shape is the permanent Fault for an answer of the wrong shape.
func (c *Client) shape(model, method string, v any) error {
	return c.finish(permanentFault("unexpected answer of type %T", v), model, method)
}

// Health asks Odoo's GET /web/health?db_server_status=1: nil when Odoo and
// its database answer, else a transient *Fault (an HTTP 500 "fail" when
// the database is down, or no answer at all).
func (c *Client) Health(ctx context.Context) error {
	release, err := c.acquire(ctx)
	if err != nil {
		return c.finish(err, "", "health")
	}
	defer release()
	p := &poster{client: c.http, timeout: c.cfg.Timeout}
	a, err := p.do(ctx, http.MethodGet, c.cfg.baseURL()+"/web/health?db_server_status=1", nil, nil)
	if err != nil {
		return c.finish(err, "", "health")
	}
	var h struct {
		Status   string `json:"status"`
		DBStatus *bool  `json:"db_server_status"`
	}
	jsonErr := json.Unmarshal(a.body, &h)
	if a.status == http.StatusOK && jsonErr == nil && h.Status == "pass" && (h.DBStatus == nil || *h.DBStatus) {
		return nil
	}
	msg := fmt.Sprintf("health is %q", h.Status)
	if h.DBStatus != nil && !*h.DBStatus {
		msg += ", database server down"
	}
	f := unexpected(a, msg)
	f.transient = true
	return c.finish(f, "", "health")
}
