package odoo

import (
	"context"
	"reflect"
	"strings"

	"github.com/insightpulse/pulsehub/events/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of an Odoo call's span: which call and how big, and Odoo's
// fault code and exception class when it failed — never a value, a
// domain, a record's fields or a credential.
const (
	AttrModel       = attribute.Key("odoo.model")
	AttrMethod      = attribute.Key("odoo.method")
	AttrRecordCount = attribute.Key("odoo.record_count")
	AttrFaultCode   = attribute.Key("odoo.fault_code")
	AttrFaultName   = attribute.Key("odoo.fault_name")
	AttrHTTPStatus  = attribute.Key("http.response.status_code")
	AttrTransient   = attribute.Key("odoo.transient")
)

// startCall starts the client span of one execute_kw.
func startCall(ctx context.Context, model, method string, args []any) (context.Context, trace.Span) {
	if !tracing.On() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return tracing.Start(ctx, "odoo", "odoo "+model+" "+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrModel.String(model), AttrMethod.String(method), AttrRecordCount.Int(recordCount(method, args))))
}

func endCall(span trace.Span, err error) {
	if f, ok := asFault(err); ok && span.IsRecording() {
		span.SetAttributes(AttrFaultCode.Int(f.Code), AttrTransient.Bool(f.Transient()))
		if f.Name != "" {
			span.SetAttributes(AttrFaultName.String(f.Name))
		}
		if f.HTTPStatus != 0 {
			span.SetAttributes(AttrHTTPStatus.Int(f.HTTPStatus))
		}
	}
	tracing.End(span, err)
}

// recordCount is how many records a call is about: load's rows (its
// second argument), else the length of the first argument when it is a
// list (create's values, write's, read's and unlink's ids), else 0 (a
// search, whose first argument is its domain).
func recordCount(method string, args []any) int {
	if strings.HasPrefix(method, "search") {
		return 0
	}
	i := 0
	if method == "load" {
		i = 1
	}
	if len(args) <= i || args[i] == nil {
		return 0
	}
	if v := reflect.ValueOf(args[i]); v.Kind() == reflect.Slice {
		return v.Len()
	}
	return 0
}
