package schemas

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// schemaOf is the schema a fixture file is for: the part of its name
// before the first dot (job.full.json → job).
func schemaOf(file string) string {
	name, _, _ := strings.Cut(filepath.Base(file), ".")
	return name
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return files
}

func read(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEveryExampleValidates(t *testing.T) {
	for _, file := range glob(t, "examples/*.json") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if err := Validate(schemaOf(file), read(t, file)); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		})
	}
}

func TestEveryInvalidExampleFails(t *testing.T) {
	for _, file := range glob(t, "testdata/invalid/*.json") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			name := schemaOf(file)
			if !slices.Contains(Names(), name) {
				t.Fatalf("%s: no schema %q", file, name)
			}
			err := Validate(name, read(t, file))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				// A parse error or unknown schema would make the test
				// pass for the wrong reason.
				t.Fatalf("%s: want a *ValidationError, got %v", file, err)
			}
			if ve.Schema != name || len(ve.Problems) == 0 {
				t.Errorf("%s: error names schema %q with %d problems", file, ve.Schema, len(ve.Problems))
			}
			t.Log(err)
		})
	}
}

func TestEverySchemaHasAnExampleAndAnInvalidOne(t *testing.T) {
	have := func(dir string) map[string]bool {
		m := map[string]bool{}
		for _, f := range glob(t, filepath.Join(dir, "*.json")) {
			m[schemaOf(f)] = true
		}
		return m
	}
	examples, invalid := have("examples"), have("testdata/invalid")
	for _, name := range Names() {
		if !examples[name] {
			t.Errorf("schema %s has no examples/%s.<variant>.json", name, name)
		}
		if !invalid[name] {
			t.Errorf("schema %s has no testdata/invalid/%s.<why>.json", name, name)
		}
	}
}

func TestNamesListsEverySchemaFile(t *testing.T) {
	var want []string
	for _, f := range glob(t, "*"+suffix) {
		want = append(want, strings.TrimSuffix(f, suffix))
	}
	slices.Sort(want) // glob sorts file names: job-state.… before job.…
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for _, name := range []string{"envelope", "odoo-cmd", "job", "result", "dlq", "health-status",
		"health-transition", "job-state", "odoo-webhook", "ingest-accepted", "reconciler-checkpoint"} {
		if !slices.Contains(want, name) {
			t.Errorf("no schema %s", name)
		}
	}
}

func TestEverySchemaCompiles(t *testing.T) {
	set, err := compileAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Names() {
		if set[name] == nil {
			t.Errorf("schema %s did not compile", name)
		}
	}
}

// TestSchemaConventions holds the house rules: draft 2020-12, an $id
// that ends with the file name, a title and description, and a
// description on every property.
func TestSchemaConventions(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			b, ok := Schema(name)
			if !ok {
				t.Fatal("Schema() found no file")
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %v, want draft 2020-12", doc["$schema"])
			}
			id, _ := doc["$id"].(string)
			if !strings.HasPrefix(id, "https://pulsehub.insightpulse.dev/schemas/") || !strings.HasSuffix(id, "/"+name+suffix) {
				t.Errorf("$id = %q, want https://pulsehub.insightpulse.dev/schemas/%s%s", id, name, suffix)
			}
			for _, k := range []string{"title", "description"} {
				if s, _ := doc[k].(string); s == "" {
					t.Errorf("no %s", k)
				}
			}
			undescribed(t, "#", doc)
		})
	}
}

// undescribed reports every property, pattern property and definition
// under v that has no description. The properties of an "if" are
// conditions on properties declared elsewhere, not declarations.
func undescribed(t *testing.T, at string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if strings.HasSuffix(at, "/if") {
			return
		}
		for _, kw := range []string{"properties", "patternProperties", "$defs"} {
			props, _ := v[kw].(map[string]any)
			for name, p := range props {
				if d, _ := p.(map[string]any)["description"].(string); d == "" {
					t.Errorf("%s/%s/%s has no description", at, kw, name)
				}
			}
		}
		for k, sub := range v {
			undescribed(t, at+"/"+k, sub)
		}
	case []any:
		for _, sub := range v {
			undescribed(t, at+"/[]", sub)
		}
	}
}

func TestValidateNamesSchemaPointerAndKeyword(t *testing.T) {
	tests := []struct {
		name, schema, doc string
		want              string
	}{
		{
			name:   "format is asserted",
			schema: "job", doc: `{"payload": {}, "eta": "tomorrow"}`,
			want: "job: /eta: 'tomorrow' is not valid date-time",
		},
		{
			name:   "keyword location is given",
			schema: "job", doc: `{"payload": {}, "eta": "tomorrow"}`,
			want: "[#/properties/eta/format]",
		},
		{
			name:   "a missing property has no pointer",
			schema: "job", doc: `{}`,
			want: "job: missing property 'payload' [#/required]",
		},
		{
			name:   "per-op requirement names its branch",
			schema: "odoo-cmd", doc: `{"op": "unlink", "model": "res.partner"}`,
			want: "odoo-cmd: missing property 'id' [#/allOf/3/then/required]",
		},
		{
			name:   "a rule from a referenced schema names that file",
			schema: "dlq", doc: `{"ce-time": "yesterday"}`,
			want: "/ce-time: 'yesterday' is not valid date-time",
		},
		{
			name:   "uri-reference is asserted",
			schema: "envelope", doc: `{"ce-source": "odoo\\main"}`,
			want: "is not valid uri-reference: contains \\",
		},
		{
			name:   "pointer tokens are escaped",
			schema: "envelope", doc: `{"a/b~c": 1}`,
			want: "/a~1b~0c: got number, want string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.schema, []byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%s, %s) = %v, want it to contain %q", tt.schema, tt.doc, err, tt.want)
			}
		})
	}
}

func TestReferencedRuleKeywordNamesItsFile(t *testing.T) {
	err := Validate("dlq", []byte(`{"ce-time": "yesterday"}`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	i := slices.IndexFunc(ve.Problems, func(p Problem) bool { return p.Pointer == "/ce-time" })
	if i < 0 {
		t.Fatalf("no problem at /ce-time in %v", err)
	}
	if got, want := ve.Problems[i].Keyword, "envelope.schema.json#/properties/ce-time/format"; got != want {
		t.Errorf("keyword = %q, want %q", got, want)
	}
}

func TestValidateUnknownSchema(t *testing.T) {
	for _, validate := range []func() error{
		func() error { return Validate("no-such", []byte(`{}`)) },
		func() error { return ValidateValue("no-such", map[string]any{}) },
	} {
		err := validate()
		if !errors.Is(err, ErrUnknownSchema) {
			t.Fatalf("want ErrUnknownSchema, got %v", err)
		}
		for _, want := range []string{`"no-such"`, "unknown schema", "envelope"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	}
	if _, ok := Schema("no-such"); ok {
		t.Error(`Schema("no-such") found something`)
	}
}

func TestValidateRejectsNonJSON(t *testing.T) {
	for _, doc := range []string{``, `{`, `{"payload": 1} {}`, `nope`} {
		err := Validate("job", []byte(doc))
		var ve *ValidationError
		if err == nil || errors.As(err, &ve) || !strings.HasPrefix(err.Error(), "job: not a JSON document") {
			t.Errorf("Validate(job, %q) = %v, want a not-JSON error", doc, err)
		}
	}
}

func TestValidateValue(t *testing.T) {
	type job struct {
		Payload    any    `json:"payload"`
		ETA        string `json:"eta,omitempty"`
		MaxRetries *int   `json:"max_retries,omitempty"`
	}
	three, minus := 3, -1
	tests := []struct {
		name  string
		value any
		ok    bool
	}{
		{"struct", job{Payload: map[string]int{"a": 1}, MaxRetries: &three}, true},
		{"struct with a bad field", job{Payload: 1, MaxRetries: &minus}, false},
		{"map", map[string]any{"payload": []int{1, 2}}, true},
		{"raw message", json.RawMessage(`{"payload": null}`), true},
		{"bytes are a document", []byte(`{"eta": "tomorrow"}`), false},
		{"a nil payload is null, and null is a value", job{}, true},
		{"not an object", []string{"payload"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateValue("job", tt.value)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateValue(job, %#v) = %v, want ok=%v", tt.value, err, tt.ok)
			}
		})
	}
	if err := ValidateValue("job", map[string]any{"payload": make(chan int)}); err == nil || !strings.Contains(err.Error(), "cannot encode") {
		t.Errorf("unencodable value: got %v", err)
	}
}

func TestSchemaReturnsACopy(t *testing.T) {
	a, ok := Schema("job")
	if !ok || !json.Valid(a) {
		t.Fatalf("Schema(job) = %q, %v", a, ok)
	}
	clear(a)
	if b, _ := Schema("job"); !json.Valid(b) {
		t.Error("changing the returned bytes changed the schema")
	}
}

func TestValidateIsSafeConcurrently(t *testing.T) {
	files := glob(t, "examples/*.json")
	compiled = sync.OnceValues(compileAll) // make the first use race, as in a fresh process
	var wg sync.WaitGroup
	errs := make(chan error, len(files)*4)
	for range 4 {
		for _, f := range files {
			doc := read(t, f)
			wg.Go(func() { errs <- Validate(schemaOf(f), doc) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
