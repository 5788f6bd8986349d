package odootest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
)

// SendWebhook posts what Odoo's "Send Webhook Notification" server action
// posts for one record: a JSON body with keys sorted, "_action" (e.g.
// "Hub webhook POST(#237)"), "_id", "_model", "id" and the chosen fields
// as read with load=None (many2one a bare id, x2many an id list, empty
// values false, datetimes with microseconds), with python-requests'
// headers, a 1 s timeout and no retry. The caller closes the body.
func (s *Server) SendWebhook(ctx context.Context, url, action, model string, id int64, fields []string) (*http.Response, error) {
	body, err := s.webhookBody(action, model, id, fields)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("User-Agent", "python-requests/2.28.1")
	h.Set("Accept-Encoding", "gzip, deflate")
	h.Set("Accept", "*/*")
	h.Set("Connection", "keep-alive")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return s.hooks.Do(req)
}

// webhookBody is the JSON body Odoo sends for the record.
func (s *Server) webhookBody(action, model string, id int64, fields []string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.db.models[model]
	if !ok {
		return nil, fmt.Errorf("odootest: unknown model %s", model)
	}
	if err := checkFields(m, fields); err != nil {
		return nil, fmt.Errorf("odootest: %s", err.message)
	}
	r, ok := s.db.row(model, id)
	if !ok {
		return nil, fmt.Errorf("odootest: no %s record %d", model, id)
	}
	values := map[string]any{"_action": action, "_id": id, "_model": model, "id": id}
	for _, e := range s.db.render(m, r, fields, readWebhook) {
		values[e.k] = e.v
	}
	return pyJSON(sortedMap(values)), nil
}
