package schemas

import (
	"cmp"
	"net/url"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer renders the validator's messages; they are written in English.
var printer = message.NewPrinter(language.English)

// ValidationError says why a document does not match a schema: every
// failing keyword with where it failed in the document.
//
//	job: /eta: 'tomorrow' is not valid date-time: ... [#/properties/eta/format]
type ValidationError struct {
	Schema   string    // the schema's name, e.g. "job"
	Problems []Problem // at least one, sorted by Pointer then Keyword
}

// Problem is one failing keyword.
type Problem struct {
	// Pointer is the JSON pointer (RFC 6901) of the failing value in the
	// document; "" is the document itself.
	Pointer string
	// Keyword is the failing keyword's location in the schema:
	// "#/properties/eta/format" in the schema itself, or
	// "envelope.schema.json#/properties/ce-time/format" in one it refers to.
	Keyword string
	// Message says what is wrong, e.g. "missing property 'payload'".
	Message string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.Schema)
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// String is "<pointer>: <message> [<keyword>]", without the pointer for the
// document itself.
func (p Problem) String() string {
	var b strings.Builder
	if p.Pointer != "" {
		b.WriteString(p.Pointer)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Keyword != "" {
		b.WriteString(" [")
		b.WriteString(p.Keyword)
		b.WriteString("]")
	}
	return b.String()
}

func newValidationError(name, schemaURL string, ve *jsonschema.ValidationError) *ValidationError {
	base, _, _ := strings.Cut(schemaURL, "#")
	dir := base[:strings.LastIndexByte(base, '/')+1]
	e := &ValidationError{Schema: name}
	var walk func(*jsonschema.ValidationError)
	walk = func(v *jsonschema.ValidationError) {
		// Only the leaves say what is wrong; the inner nodes (schema,
		// $ref, allOf, if/then groups) only say that something below is.
		if len(v.Causes) > 0 {
			for _, c := range v.Causes {
				walk(c)
			}
			return
		}
		e.Problems = append(e.Problems, Problem{
			Pointer: pointer(v.InstanceLocation),
			Keyword: keywordLocation(v, base, dir),
			Message: v.ErrorKind.LocalizedString(printer),
		})
	}
	walk(ve)
	slices.SortFunc(e.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Pointer, b.Pointer), cmp.Compare(a.Keyword, b.Keyword))
	})
	e.Problems = slices.Compact(e.Problems)
	return e
}

// keywordLocation is the failing keyword's absolute location, shortened
// to "#/..." inside the schema itself and to "<file>#/..." in a sibling.
func keywordLocation(v *jsonschema.ValidationError, base, dir string) string {
	loc := v.SchemaURL
	if _, isRef := v.ErrorKind.(*kind.Reference); !isRef {
		for _, tok := range v.ErrorKind.KeywordPath() {
			loc += "/" + escape(tok)
		}
	}
	// The location is a URL: decode the fragment so that a pattern
	// property reads as written in the schema.
	if u, frag, ok := strings.Cut(loc, "#"); ok {
		if f, err := url.PathUnescape(frag); err == nil {
			loc = u + "#" + f
		}
	}
	if rest, ok := strings.CutPrefix(loc, base); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(loc, dir); ok {
		return rest
	}
	return loc
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}

// escape applies RFC 6901: "~" is "~0" and "/" is "~1".
func escape(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}
