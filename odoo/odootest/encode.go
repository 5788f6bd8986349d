package odootest

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// omap is a dict whose key order matters: Python keeps insertion order,
// and the recorded answers show it.
type omap []kv

type kv struct {
	k string
	v any
}

func (m omap) get(k string) (any, bool) {
	for _, e := range m {
		if e.k == k {
			return e.v, true
		}
	}
	return nil, false
}

// sortedMap turns a Go map into an omap sorted by key.
func sortedMap(m map[string]any) omap {
	out := make(omap, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].k < out[j].k })
	return out
}

// pyFloat is Python's repr of a float: shortest round-trip digits, always
// with a ".0" or an exponent.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs >= 1e16 || abs < 1e-4) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// writeXMLRPCValue writes v as Python's xmlrpc.client marshaller does:
// one <value> per line, structs and arrays opened on their own line.
func writeXMLRPCValue(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("<value><boolean>0</boolean></value>\n")
	case bool:
		if x {
			b.WriteString("<value><boolean>1</boolean></value>\n")
		} else {
			b.WriteString("<value><boolean>0</boolean></value>\n")
		}
	case int:
		fmt.Fprintf(b, "<value><int>%d</int></value>\n", x)
	case int64:
		fmt.Fprintf(b, "<value><int>%d</int></value>\n", x)
	case float64:
		fmt.Fprintf(b, "<value><double>%s</double></value>\n", pyFloat(x))
	case string:
		b.WriteString("<value><string>")
		b.WriteString(xmlEscape(x))
		b.WriteString("</string></value>\n")
	case omap:
		b.WriteString("<value><struct>\n")
		for _, e := range x {
			b.WriteString("<member>\n<name>" + xmlEscape(e.k) + "</name>\n")
			writeXMLRPCValue(b, e.v)
			b.WriteString("</member>\n")
		}
		b.WriteString("</struct></value>\n")
	case map[string]any:
		writeXMLRPCValue(b, sortedMap(x))
	default:
		b.WriteString("<value><array><data>\n")
		for _, e := range listOf(v) {
			writeXMLRPCValue(b, e)
		}
		b.WriteString("</data></array></value>\n")
	}
}

// listOf turns the slice types the fake answers with into []any.
func listOf(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []int64:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case []omap:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	panic(fmt.Sprintf("odootest: cannot encode %T", v))
}

// xmlEscape escapes as Python's xmlrpc.client does: &, < and > only.
func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func xmlrpcResponse(v any) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\"?>\n<methodResponse>\n<params>\n<param>\n")
	writeXMLRPCValue(&b, v)
	b.WriteString("</param>\n</params>\n\n</methodResponse>\n")
	return b.Bytes()
}

func xmlrpcFault(code int, s string) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\"?>\n<methodResponse>\n<fault>\n")
	writeXMLRPCValue(&b, omap{{"faultCode", int64(code)}, {"faultString", s}})
	b.WriteString("</fault>\n\n</methodResponse>\n")
	return b.Bytes()
}

// pyJSON writes v as Python's json.dumps does with its default separators
// (", " and ": ") and ensure_ascii.
func pyJSON(v any) []byte {
	var b bytes.Buffer
	writePyJSON(&b, v)
	return b.Bytes()
}

func writePyJSON(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(pyFloat(x))
	case string:
		writePyString(b, x)
	case omap:
		b.WriteByte('{')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyString(b, e.k)
			b.WriteString(": ")
			writePyJSON(b, e.v)
		}
		b.WriteByte('}')
	case map[string]any:
		writePyJSON(b, sortedMap(x))
	default:
		b.WriteByte('[')
		for i, e := range listOf(v) {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyJSON(b, e)
		}
		b.WriteByte(']')
	}
}

func writePyString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == utf8.RuneError:
			fmt.Fprintf(b, `\u%04x`, r)
		case r < 0x80:
			b.WriteRune(r)
		case r < 0x10000:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		}
	}
	b.WriteByte('"')
}
