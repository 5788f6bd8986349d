package tracing_test

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/nats-io/nats.go/jetstream"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is an OTLP/HTTP trace receiver on loopback: it decodes what
// the exporter sends (protobuf, as a collector would) and keeps the spans.
type receiver struct {
	URL   string
	mu    sync.Mutex
	spans []*tracepb.Span
	names map[string]string // resource attribute service.name per span name
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{names: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "not OTLP/HTTP protobuf traces", http.StatusNotFound)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		raw, err := io.ReadAll(io.LimitReader(body, 8<<20))
		var msg coltrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &msg)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.ResourceSpans {
			svc := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					svc = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					r.spans = append(r.spans, s)
					r.names[s.Name] = svc
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *receiver) span(name string) *tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.spans {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// One real OTLP/HTTP round trip: tracing set up as `hub run` does (the
// config's endpoint, the SDK's exporter), a span published through
// stream.Publish and continued by the message's reader, and a receiver
// that decodes the exported protobuf finds the trace with its parents.
func TestSpansReachAnOTLPHTTPReceiverAsOneTrace(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_SAMPLER", "OTEL_SDK_DISABLED"} {
		t.Setenv(v, "")
	}
	t.Setenv("OTEL_SERVICE_NAME", "pulsehub-test")
	recv := newReceiver(t)
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "GITHUB", Subjects: []string{"github.>"}})
	if err != nil {
		t.Fatal(err)
	}

	c := tracing.DefaultConfig()
	c.Enabled, c.Endpoint, c.SampleRatio = true, recv.URL, 1
	stop, err := tracing.Setup(ctx, c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) }) // turns tracing off again if the test fails early

	wctx, webhook := tracing.Start(ctx, "test", "POST /github")
	e := events.New(wctx, "/github", "com.github.issues.opened", []byte(`{"action":"opened"}`))
	if _, err := stream.Publish(wctx, js, e.Msg("github.issues.opened")); err != nil {
		t.Fatal(err)
	}
	webhook.End()
	raw, err := st.GetLastMsgForSubject(ctx, "github.issues.opened")
	if err != nil {
		t.Fatal(err)
	}
	_, consume := tracing.Start(tracing.Extract(ctx, raw.Header), "test", "consume github-issues")
	consume.End()
	if err := stop(ctx); err != nil { // flushes the batch to the receiver
		t.Fatalf("shutdown: %v", err)
	}
	if tracing.On() {
		t.Fatal("tracing still on after its shutdown")
	}

	root, pub, cons := recv.span("POST /github"), recv.span("publish github"), recv.span("consume github-issues")
	if root == nil || pub == nil || cons == nil {
		t.Fatalf("the receiver got %d spans, not the three of the trace", len(recv.spans))
	}
	trace := hex.EncodeToString(root.TraceId)
	if hex.EncodeToString(pub.TraceId) != trace || hex.EncodeToString(cons.TraceId) != trace {
		t.Fatalf("not one trace: %x %x %x", root.TraceId, pub.TraceId, cons.TraceId)
	}
	if string(pub.ParentSpanId) != string(root.SpanId) || string(cons.ParentSpanId) != string(pub.SpanId) {
		t.Fatal("the publish is not the webhook's child, or the consume not the publish's")
	}
	if pub.Kind != tracepb.Span_SPAN_KIND_PRODUCER {
		t.Fatalf("publish span kind %v", pub.Kind)
	}
	if got := recv.names["publish github"]; got != "pulsehub-test" {
		t.Fatalf("service.name %q, want OTEL_SERVICE_NAME's", got)
	}
}
