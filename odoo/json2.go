package odoo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/insightpulse/pulsehub/events/config"
)

// json2Transport speaks Odoo 19's POST /json/2/<model>/<method>: a bearer
// API key, the keyword arguments as the body, the bare result as the answer
// and a real HTTP status with {name, message, debug} on error.
type json2Transport struct {
	p      *poster
	base   string
	db     string
	secret config.Secret
}

// signature is how a method's positional arguments are named in JSON-2.
type signature struct {
	records bool     // args[0] are the record ids
	names   []string // the remaining positional arguments, in order
}

var json2Signatures = map[string]signature{
	"search":       {names: []string{"domain", "offset", "limit", "order"}},
	"search_read":  {names: []string{"domain", "fields", "offset", "limit", "order"}},
	"search_count": {names: []string{"domain", "limit"}},
	"create":       {names: []string{"vals_list"}},
	"load":         {names: []string{"fields", "data"}},
	"name_search":  {names: []string{"name", "domain", "operator", "limit"}},
	"name_create":  {names: []string{"name"}},
	"fields_get":   {names: []string{"allfields", "attributes"}},
	"default_get":  {names: []string{"fields_list"}},
	"read":         {records: true, names: []string{"fields", "load"}},
	"write":        {records: true, names: []string{"vals"}},
	"unlink":       {records: true},
	"copy":         {records: true, names: []string{"default"}},
}

func (t *json2Transport) version(ctx context.Context) (Version, error) {
	a, err := t.p.do(ctx, http.MethodGet, t.base+"/web/version", nil, nil)
	if err != nil {
		return Version{}, err
	}
	v, err := decodeJSON2(a)
	if err != nil {
		return Version{}, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Version{}, unexpected(a, "unexpected /web/version answer")
	}
	info, _ := m["version_info"].([]any)
	serie := Record(m).String("version")
	if len(info) >= 2 {
		serie = strings.TrimSpace(jsonText(info[0]) + "." + jsonText(info[1]))
	}
	return Version{ServerVersion: Record(m).String("version"), ServerVersionInfo: info, ServerSerie: serie}, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

// authenticate asks res.users.context_get, which answers the key's uid; a
// 401 means the key was rejected.
func (t *json2Transport) authenticate(ctx context.Context) (int64, error) {
	v, err := t.post(ctx, "res.users", "context_get", map[string]any{})
	if f, ok := asFault(err); ok && f.HTTPStatus == http.StatusUnauthorized {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if m, ok := v.(map[string]any); ok {
		if uid := Record(m).Int("uid"); uid != 0 {
			return uid, nil
		}
	}
	return 0, permanentFault("context_get: no uid in the answer")
}

func (t *json2Transport) execute(ctx context.Context, _ int64, c call) (any, error) {
	body, single, err := json2Body(c)
	if err != nil {
		return nil, err
	}
	v, err := t.post(ctx, c.model, c.method, body)
	if err != nil || !single {
		return v, err
	}
	// create with one dict answers one id over XML-RPC; JSON-2 always
	// answers a list, so unwrap it to keep both transports alike.
	if ids, ok := v.([]any); ok && len(ids) == 1 {
		return ids[0], nil
	}
	return v, nil
}

// json2Body maps execute_kw's positional args to JSON-2's named ones.
// single reports a create with one dict rather than a list.
func json2Body(c call) (body map[string]any, single bool, err error) {
	body = outgoingMap(c.kwargs)
	sig, known := json2Signatures[c.method]
	args := c.args
	if len(args) > 0 && (sig.records || !known && isIDList(args[0])) {
		ids, ok := toIDs(outgoing(args[0]))
		if !ok {
			if id, isInt := toInt64(args[0]); isInt {
				ids, ok = []int64{id}, true
			}
		}
		if !ok {
			return nil, false, permanentFault("%s: the first argument must be the record ids", c.method)
		}
		body["ids"] = ids
		args = args[1:]
	}
	if len(args) > len(sig.names) {
		return nil, false, permanentFault("%s: JSON-2 takes keyword arguments; pass %d positional argument(s) in kwargs",
			c.method, len(args)-len(sig.names))
	}
	for i, a := range args {
		body[sig.names[i]] = outgoing(a)
	}
	if c.method == "create" {
		if m, ok := body["vals_list"].(map[string]any); ok {
			body["vals_list"] = []any{m}
			single = true
		}
	}
	return body, single, nil
}

func isIDList(v any) bool {
	switch x := v.(type) {
	case []int64:
		return true
	case []any:
		_, ok := toIDs(x)
		return ok
	}
	return false
}

func (t *json2Transport) post(ctx context.Context, model, method string, body map[string]any) (any, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, permanentFault("cannot encode the %s arguments: %v", method, err)
	}
	h := http.Header{
		"Content-Type":  {"application/json; charset=utf-8"},
		"Authorization": {"bearer " + t.secret.Value()},
	}
	if t.db != "" {
		h.Set("X-Odoo-Database", t.db)
	}
	u := t.base + "/json/2/" + url.PathEscape(model) + "/" + url.PathEscape(method)
	a, err := t.p.do(ctx, http.MethodPost, u, h, data)
	if err != nil {
		return nil, err
	}
	return decodeJSON2(a)
}

// decodeJSON2 reads a JSON-2 answer: the bare result on 200, else the
// {name, message, arguments, context, debug} error body.
func decodeJSON2(a answer) (any, error) {
	if a.status != http.StatusOK {
		var e struct {
			Name    string `json:"name"`
			Message string `json:"message"`
			Debug   string `json:"debug"`
		}
		if json.Unmarshal(a.body, &e) != nil || e.Name == "" {
			return nil, unexpected(a, http.StatusText(a.status))
		}
		return nil, httpFault(a.status, e.Name, e.Message, e.Debug, retryAfter(a.header))
	}
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, unexpected(a, "cannot decode the JSON-2 answer: "+err.Error())
	}
	return fromJSON(v), nil
}
