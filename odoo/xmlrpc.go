package odoo

import (
	"bytes"
	"context"
	"net/http"
	"strconv"

	"github.com/insightpulse/pulsehub/events/config"
	"github.com/kolo/xmlrpc"
)

// xmlrpcTransport speaks /xmlrpc/2/common and /xmlrpc/2/object. kolo's
// codec encodes the calls and decodes the answers; the HTTP round trip is
// ours so that every call carries its context.
type xmlrpcTransport struct {
	p         *poster
	base      string
	db, login string
	secret    config.Secret
}

func (t *xmlrpcTransport) version(ctx context.Context) (Version, error) {
	v, err := t.rpc(ctx, "common", "version")
	if err != nil {
		return Version{}, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Version{}, permanentFault("version: unexpected answer %T", v)
	}
	r := Record(m)
	info, _ := m["server_version_info"].([]any)
	return Version{
		ServerVersion:     r.String("server_version"),
		ServerVersionInfo: info,
		ServerSerie:       r.String("server_serie"),
		ProtocolVersion:   r.Int("protocol_version"),
	}, nil
}

func (t *xmlrpcTransport) authenticate(ctx context.Context) (int64, error) {
	v, err := t.rpc(ctx, "common", "authenticate", t.db, t.login, t.secret.Value(), map[string]any{})
	if err != nil {
		return 0, err
	}
	if uid, ok := toInt64(v); ok {
		return uid, nil
	}
	if b, ok := v.(bool); ok && !b {
		return 0, nil // Odoo answers false, not a fault, for a wrong password
	}
	return 0, permanentFault("authenticate: unexpected answer %T", v)
}

func (t *xmlrpcTransport) execute(ctx context.Context, uid int64, c call) (any, error) {
	args := make([]any, 0, len(c.args))
	for _, a := range c.args {
		args = append(args, outgoing(a))
	}
	params := []any{t.db, uid, t.secret.Value(), c.model, c.method, args}
	if len(c.kwargs) > 0 {
		params = append(params, outgoingMap(c.kwargs))
	}
	return t.rpc(ctx, "object", "execute_kw", params...)
}

func (t *xmlrpcTransport) rpc(ctx context.Context, service, method string, params ...any) (any, error) {
	body, err := encodeMethodCall(method, params...)
	if err != nil {
		return nil, permanentFault("cannot encode the %s arguments: %v", method, err)
	}
	h := http.Header{"Content-Type": {"text/xml"}}
	a, err := t.p.do(ctx, http.MethodPost, t.base+"/xmlrpc/2/"+service, h, body)
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusOK {
		return nil, unexpected(a, http.StatusText(a.status))
	}
	return decodeXMLRPC(a)
}

// decodeXMLRPC reads a methodResponse: its one value, or its fault. The
// fault is decoded as a map rather than kolo's FaultError so that a legacy
// string faultCode (/xmlrpc/ without /2/) does not fail the decoding.
func decodeXMLRPC(a answer) (any, error) {
	resp := xmlrpc.Response(a.body)
	if bytes.Contains(a.body, []byte("<fault>")) {
		var m map[string]any
		if err := resp.Unmarshal(&m); err != nil {
			return nil, unexpected(a, "cannot decode the XML-RPC fault: "+err.Error())
		}
		s, _ := m["faultString"].(string)
		return nil, rpcFault(faultCode(m["faultCode"]), s)
	}
	if !bytes.Contains(a.body, []byte("<methodResponse>")) {
		return nil, unexpected(a, "not an XML-RPC answer")
	}
	var v any
	if err := resp.Unmarshal(&v); err != nil {
		return nil, unexpected(a, "cannot decode the XML-RPC answer: "+err.Error())
	}
	return fromXMLRPC(v), nil
}

func faultCode(v any) int {
	switch x := v.(type) {
	case int64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}
