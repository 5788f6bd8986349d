// Package schemas holds the JSON Schema (draft 2020-12) of every message,
// header set and stored value Pulse Hub defines — the envelope headers,
// Odoo commands, jobs, results, dead letters, health records, job states,
// the GitHub reconciler's checkpoint, Odoo webhook bodies and the
// ingester's answer — embedded in the binary, and validates documents
// against them.
//
// The schema files are the contract; the Go types that produce and read
// these messages live in the services, or in events/wire when one service
// writes what another reads. Tests here keep the files, their
// examples and their invalid counter-examples in step.
//
// Validation uses github.com/santhosh-tekuri/jsonschema/v6: a maintained,
// pure-Go validator that passes the official JSON-Schema-Test-Suite for
// draft 2020-12, resolves $ref between our files without network access,
// asserts formats (date-time, uri-reference) when asked, and reports each
// failure with its instance location and keyword, which is what our errors
// are built from.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.schema.json
var files embed.FS

// suffix ends every schema file name; what precedes it is the schema's name.
const suffix = ".schema.json"

// ErrUnknownSchema is wrapped by the error for a name no schema has.
var ErrUnknownSchema = errors.New("unknown schema")

// Names returns the name of every schema, sorted: "dlq", "envelope", ...
func Names() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(err) // the embedded root always exists
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), suffix); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Schema returns a copy of the schema file called name, as written.
func Schema(name string) ([]byte, bool) {
	b, err := files.ReadFile(name + suffix)
	if err != nil {
		return nil, false
	}
	return b, true
}

// Validate checks the JSON document doc against the schema called name.
// A document that does not match returns a *ValidationError; doc that is
// not JSON, or an unknown name (ErrUnknownSchema), another error.
func Validate(name string, doc []byte) error {
	sch, err := lookup(name)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("%s: not a JSON document: %w", name, err)
	}
	return check(name, sch, v)
}

// ValidateValue checks v, as encoding/json marshals it, against the schema
// called name: a struct is checked by its JSON field names. A
// json.RawMessage or []byte is taken as the JSON document itself.
func ValidateValue(name string, v any) error {
	switch raw := v.(type) {
	case json.RawMessage:
		return Validate(name, raw)
	case []byte:
		return Validate(name, raw)
	}
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: cannot encode %T as JSON: %w", name, v, err)
	}
	return Validate(name, doc)
}

func check(name string, sch *jsonschema.Schema, v any) error {
	err := sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return newValidationError(name, sch.Location, ve)
}

func lookup(name string) (*jsonschema.Schema, error) {
	set, err := compiled()
	if err != nil {
		return nil, err
	}
	sch, ok := set[name]
	if !ok {
		return nil, fmt.Errorf("schema %q: %w (known: %s)", name, ErrUnknownSchema, strings.Join(Names(), ", "))
	}
	return sch, nil
}

// compiled compiles every embedded schema the first time it is needed.
// The files are fixed at build time, so one attempt decides for the
// process; the tests make sure it succeeds.
var compiled = sync.OnceValues(compileAll)

func compileAll() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// In 2020-12 "format" is only an annotation unless asked for; our
	// schemas rely on it for date-time and uri-reference.
	c.AssertFormat()
	// $ref between our files resolves through the resources added below;
	// nothing is ever fetched.
	c.UseLoader(noLoader{})

	ids := make(map[string]string)
	for _, name := range Names() {
		b, _ := Schema(name)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			return nil, fmt.Errorf("schema %s: no $id", name)
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		ids[name] = id
	}
	set := make(map[string]*jsonschema.Schema, len(ids))
	for name, id := range ids {
		sch, err := c.Compile(id)
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		set[name] = sch
	}
	return set, nil
}

// noLoader refuses every URL: a $ref outside our files is a bug in them.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not one of the embedded schemas", url)
}
