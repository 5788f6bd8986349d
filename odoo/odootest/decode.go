package odootest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// parseMethodCall reads an XML-RPC methodCall: the method and its params.
func parseMethodCall(body []byte) (method string, params []any, err error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return method, params, nil
		}
		if err != nil {
			return "", nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "methodName":
			if method, err = text(d); err != nil {
				return "", nil, err
			}
		case "value":
			v, err := parseValue(d)
			if err != nil {
				return "", nil, err
			}
			params = append(params, v)
		}
	}
}

// text reads character data up to the end of the current element.
func text(d *xml.Decoder) (string, error) {
	var sb strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.EndElement:
			return sb.String(), nil
		case xml.StartElement:
			return "", fmt.Errorf("unexpected <%s>", t.Name.Local)
		}
	}
}

// parseValue reads the inside of a <value> whose start was consumed, up to
// and including its end.
func parseValue(d *xml.Decoder) (any, error) {
	var untyped strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			untyped.Write(t)
		case xml.EndElement: // </value> with no type inside: a string
			return untyped.String(), nil
		case xml.StartElement:
			v, err := parseTyped(d, t.Name.Local)
			if err != nil {
				return nil, err
			}
			return v, d.Skip() // to </value>
		}
	}
}

func parseTyped(d *xml.Decoder, typ string) (any, error) {
	switch typ {
	case "array":
		return parseArray(d)
	case "struct":
		return parseStruct(d)
	case "nil":
		return nil, d.Skip()
	}
	s, err := text(d)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "int", "i4", "i8":
		return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	case "double":
		return strconv.ParseFloat(strings.TrimSpace(s), 64)
	case "boolean":
		return strings.TrimSpace(s) == "1", nil
	case "string", "base64", "dateTime.iso8601":
		return s, nil
	}
	return nil, fmt.Errorf("unknown XML-RPC type <%s>", typ)
}

func parseArray(d *xml.Decoder) (any, error) {
	out := []any{}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "value" {
				continue // <data>
			}
			v, err := parseValue(d)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		case xml.EndElement:
			if t.Name.Local == "array" {
				return out, nil
			}
		}
	}
}

func parseStruct(d *xml.Decoder) (any, error) {
	out := map[string]any{}
	var name string
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "name":
				if name, err = text(d); err != nil {
					return nil, err
				}
			case "value":
				v, err := parseValue(d)
				if err != nil {
					return nil, err
				}
				out[name] = v
			}
		case xml.EndElement:
			if t.Name.Local == "struct" {
				return out, nil
			}
		}
	}
}

// parseJSON reads a JSON-2 body: numbers without a fraction are int64.
func parseJSON(body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return normalizeJSON(m).(map[string]any), nil
}

func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if !strings.ContainsAny(x.String(), ".eE") {
			if n, err := x.Int64(); err == nil {
				return n
			}
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i, e := range x {
			x[i] = normalizeJSON(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeJSON(e)
		}
	case nil:
		return false
	}
	return v
}
