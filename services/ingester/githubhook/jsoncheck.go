package githubhook

import (
	"encoding/binary"
	"errors"
)

// Why checkJSON says no.
var (
	errNotJSON = errors.New("not valid JSON")
	errTooDeep = errors.New("nested too deep")
)

// checkJSON reports whether doc is one JSON value, as encoding/json.Valid
// decides it (RFC 8259; whitespace around it), whose objects and arrays
// nest at most limit levels: errTooDeep as soon as a bracket opens past
// limit (whatever follows), errNotJSON at the first byte that cannot be
// there. It is one pass without recursion: it replaces a depth pre-scan
// followed by gjson's validation (recursive, hence the depth limit), which
// were two passes over every body and a fifth of the ingester's CPU.
//
// visit, when not nil, is called with every member of the top-level
// object and of the objects directly in it, once its value has been read:
// depth 1 or 2, the raw keys (quoted, as in doc; parent is the depth-1 key
// of a depth-2 member) and the raw value. It is how the payload's summary
// is read in the same pass.
func checkJSON(doc []byte, limit int, visit func(depth int, parent, key, value []byte)) error {
	// stack holds one byte per open container, '{' or '['.
	stack := make([]byte, 0, 32)
	i, n := 0, len(doc)
	skipSpace := func() {
		for i < n && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
			i++
		}
	}
	// The keys and the value starts of the members at depths 1 and 2.
	var keys [3][]byte
	var starts [3]int
	ended := func() { // a value ended at i, at depth len(stack)
		if d := len(stack); visit != nil && d >= 1 && d <= 2 && stack[0] == '{' && stack[d-1] == '{' {
			visit(d, keys[1], keys[d], doc[starts[d]:i])
		}
	}
	key := func() bool { // `"key" :` at i (after whitespace)
		if i >= n || doc[i] != '"' {
			return false
		}
		start := i
		if i = stringEnd(doc, i); i < 0 {
			return false
		}
		if d := len(stack); d <= 2 {
			keys[d] = doc[start:i]
		}
		skipSpace()
		if i >= n || doc[i] != ':' {
			return false
		}
		i++
		return true
	}
	for {
		// A value is expected at i.
		skipSpace()
		if i == n {
			return errNotJSON
		}
		if d := len(stack); d <= 2 {
			starts[d] = i
		}
		switch c := doc[i]; c {
		case '{', '[':
			if len(stack) >= limit {
				return errTooDeep
			}
			stack = append(stack, c)
			i++
			skipSpace()
			if i < n && doc[i] == c+2 { // '}' is '{'+2, ']' is '['+2: empty
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' && !key() {
				return errNotJSON
			}
			continue // its first value
		case '"':
			if i = stringEnd(doc, i); i < 0 {
				return errNotJSON
			}
		case 't':
			if !literal(doc, &i, "true") {
				return errNotJSON
			}
		case 'f':
			if !literal(doc, &i, "false") {
				return errNotJSON
			}
		case 'n':
			if !literal(doc, &i, "null") {
				return errNotJSON
			}
		default:
			if i = numberEnd(doc, i); i < 0 {
				return errNotJSON
			}
		}
		// A value ended at i: close containers until one goes on.
		for {
			ended()
			skipSpace()
			if len(stack) == 0 {
				if i != n {
					return errNotJSON
				}
				return nil
			}
			if i == n {
				return errNotJSON
			}
			top := stack[len(stack)-1]
			if doc[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if doc[i] != ',' {
				return errNotJSON
			}
			i++
			if top == '{' {
				skipSpace()
				if !key() {
					return errNotJSON
				}
			}
			break
		}
	}
}

// stringEnd is the index after the string whose opening quote is at i, -1
// when it is not a valid string (an unknown escape, a control character,
// no closing quote).
func stringEnd(doc []byte, i int) int {
	for i++; i < len(doc); i++ {
		// Eight bytes at a time while none of them is a quote, a
		// backslash or a control character: most of a payload is plain
		// string bytes, and this scan was the ingester's largest function.
		for i+8 <= len(doc) && plain8(binary.LittleEndian.Uint64(doc[i:])) {
			i += 8
		}
		if i >= len(doc) {
			break
		}
		switch c := doc[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(doc) {
				return -1
			}
			switch doc[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(doc) {
					return -1
				}
				for _, h := range doc[i+1 : i+5] {
					if !isHex(h) {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// Bytes of eight lanes, for plain8.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// plain8 reports whether none of the eight bytes in x is '"', '\\' or
// below 0x20, i.e. all of them can be skipped inside a string. Each test
// is the exact "some byte is zero" (or "below n") test on the lanes of x:
// (v - 0x01…) & ^v & 0x80… is non-zero exactly when some byte of v is 0
// (a borrow only starts at a zero byte), and (x - n…) & ^x & 0x80… exactly
// when some byte of x is below n (n ≤ 0x80).
func plain8(x uint64) bool {
	q := x ^ (lanes01 * '"')
	b := x ^ (lanes01 * '\\')
	return ((q-lanes01)&^q|(b-lanes01)&^b|(x-lanes01*0x20)&^x)&lanes80 == 0
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// numberEnd is the index after the number at i, -1 when none is there:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(doc []byte, i int) int {
	n := len(doc)
	if i < n && doc[i] == '-' {
		i++
	}
	switch {
	case i < n && doc[i] == '0':
		i++
	case i < n && '1' <= doc[i] && doc[i] <= '9':
		for i++; i < n && isDigit(doc[i]); i++ {
		}
	default:
		return -1
	}
	if i < n && doc[i] == '.' {
		i++
		if i >= n || !isDigit(doc[i]) {
			return -1
		}
		for ; i < n && isDigit(doc[i]); i++ {
		}
	}
	if i < n && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < n && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		if i >= n || !isDigit(doc[i]) {
			return -1
		}
		for ; i < n && isDigit(doc[i]); i++ {
		}
	}
	return i
}

// literal reads word (true, false, null) at *i.
func literal(doc []byte, i *int, word string) bool {
	if len(doc)-*i < len(word) || string(doc[*i:*i+len(word)]) != word {
		return false
	}
	*i += len(word)
	return true
}
