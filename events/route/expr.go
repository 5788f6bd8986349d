package route

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"

	"github.com/insightpulse/pulsehub/events"
	"github.com/itchyny/gojq"
)

// Variables every route expression can read besides its input (.):
// $subject (the NATS subject), $event (the envelope: id, source, type,
// subject, time, correlation_id) and $headers (every NATS header, first
// value each).
var exprVars = []string{"$subject", "$event", "$headers"}

// Expr is a compiled jq expression (github.com/itchyny/gojq). Expressions
// cannot read the process environment ($ENV and env are empty), so a route
// cannot leak the hub's secrets.
type Expr struct {
	src  string
	code *gojq.Code
	// Whether the source names $event or $headers: most expressions read
	// only the body, and building those two maps for every evaluation was
	// a good part of a writer's work per message.
	event, headers bool
}

// Compile parses and compiles a jq expression.
func Compile(src string) (*Expr, error) {
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("jq %q: %w", src, err)
	}
	code, err := gojq.Compile(q, gojq.WithVariables(exprVars), gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, fmt.Errorf("jq %q: %w", src, err)
	}
	return &Expr{src: src, code: code, event: strings.Contains(src, "$event"), headers: strings.Contains(src, "$headers")}, nil
}

// MustCompile is Compile for expressions known good at build time.
func MustCompile(src string) *Expr {
	e, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return e
}

// String is the expression's source.
func (e *Expr) String() string { return e.src }

// Input is what an expression runs on: the decoded body and the message's
// subject and envelope.
type Input struct {
	Body    any
	Subject string
	Event   events.Event
}

// Eval runs the expression and returns its first value. No value, or a jq
// runtime error, is a permanent error: the same input gives the same
// result however often it is retried.
func (e *Expr) Eval(ctx context.Context, in Input) (any, error) {
	var event, headers any // null where the expression does not read them
	if e.event {
		event = envelopeVar(in.Event)
	}
	if e.headers {
		headers = headersVar(in.Event)
	}
	iter := e.code.RunWithContext(ctx, in.Body, in.Subject, event, headers)
	v, ok := iter.Next()
	if !ok {
		return nil, events.Permanentf("jq %q produced no value", e.src)
	}
	if err, isErr := v.(error); isErr {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, events.Permanentf("jq %q: %w", e.src, err)
	}
	return v, nil
}

// Truthy evaluates the expression as a predicate: false and null are false.
func (e *Expr) Truthy(ctx context.Context, in Input) (bool, error) {
	v, err := e.Eval(ctx, in)
	if err != nil {
		return false, err
	}
	return v != nil && v != false, nil
}

func envelopeVar(e events.Event) map[string]any {
	m := map[string]any{"id": e.ID, "source": e.Source, "type": e.Type, "subject": e.Subject, "correlation_id": e.Correlation()}
	if !e.Time.IsZero() {
		m["time"] = e.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
	}
	return m
}

func headersVar(e events.Event) map[string]any {
	m := make(map[string]any, len(e.Header))
	for k, v := range e.Header {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}

// DecodeBody turns a message body into the value expressions run on. JSON
// bodies are decoded with integers kept exact (Odoo ids, GitHub ids); a
// GitHub delivery stored form-encoded (`payload=<json>`) is unwrapped; an
// empty body is null. A body that is not JSON is a permanent error.
func DecodeBody(contentType string, data []byte) (any, error) {
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, events.Permanentf("form body: %w", err)
		}
		data = []byte(form.Get("payload"))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, events.Permanentf("body is not JSON: %w", err)
	}
	return normalize(v), nil
}

// normalize converts json.Number into int (when integral and in range) or
// float64, the number types gojq works with.
func normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, x := range t {
			t[k] = normalize(x)
		}
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
	}
	return v
}
