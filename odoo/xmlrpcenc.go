package odoo

import (
	"bytes"
	"encoding/xml"
	"strconv"

	"github.com/kolo/xmlrpc"
)

// encodeMethodCall writes an XML-RPC methodCall as kolo/xmlrpc's
// EncodeMethodCall does, into one buffer and without reflection, for the
// values calls carry: strings, integers, floats, booleans, and lists and
// string-keyed maps of them. A call holding any other value is encoded
// by kolo. kolo's encoder was a quarter of the writer's allocations: a
// batch of 1,000 records formatted and copied every value several times.
// Member names are escaped (kolo writes them as they are).
func encodeMethodCall(method string, params ...any) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(512)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><methodCall><methodName>`)
	escapeText(&b, method)
	b.WriteString("</methodName>")
	if params != nil {
		b.WriteString("<params>")
		for _, p := range params {
			b.WriteString("<param>")
			if !encodeValue(&b, p) {
				return xmlrpc.EncodeMethodCall(method, params...)
			}
			b.WriteString("</param>")
		}
		b.WriteString("</params>")
	}
	b.WriteString("</methodCall>")
	return b.Bytes(), nil
}

// encodeValue writes v as a <value>, or reports false for a type it
// leaves to kolo.
func encodeValue(b *bytes.Buffer, v any) bool {
	switch x := v.(type) {
	case string:
		b.WriteString("<value><string>")
		escapeText(b, x)
		b.WriteString("</string></value>")
	case bool:
		if x {
			b.WriteString("<value><boolean>1</boolean></value>")
		} else {
			b.WriteString("<value><boolean>0</boolean></value>")
		}
	case int:
		writeInt(b, int64(x))
	case int64:
		writeInt(b, x)
	case int32:
		writeInt(b, int64(x))
	case float64:
		b.WriteString("<value><double>")
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), x, 'f', -1, 64))
		b.WriteString("</double></value>")
	case []any:
		b.WriteString("<value><array><data>")
		for _, e := range x {
			if !encodeValue(b, e) {
				return false
			}
		}
		b.WriteString("</data></array></value>")
	case []int64:
		b.WriteString("<value><array><data>")
		for _, e := range x {
			writeInt(b, e)
		}
		b.WriteString("</data></array></value>")
	case []string:
		b.WriteString("<value><array><data>")
		for _, e := range x {
			encodeValue(b, e)
		}
		b.WriteString("</data></array></value>")
	case map[string]any:
		b.WriteString("<value><struct>")
		for k, e := range x {
			b.WriteString("<member><name>")
			escapeText(b, k)
			b.WriteString("</name>")
			if !encodeValue(b, e) {
				return false
			}
			b.WriteString("</member>")
		}
		b.WriteString("</struct></value>")
	default:
		return false
	}
	return true
}

func writeInt(b *bytes.Buffer, n int64) {
	b.WriteString("<value><int>")
	b.Write(strconv.AppendInt(b.AvailableBuffer(), n, 10))
	b.WriteString("</int></value>")
}

// escapeText writes s escaped as xml.EscapeText does; text with nothing
// to escape (most of it) is written as it is.
func escapeText(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&' || c == '\'' || c == '"' {
			xml.EscapeText(b, []byte(s))
			return
		}
	}
	b.WriteString(s)
}
