package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/insightpulse/pulsehub/events/tracing"
	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch/dispatchbench"
	"github.com/insightpulse/pulsehub/services/hub/embedded"
	"github.com/insightpulse/pulsehub/services/ingester/ingestbench"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// tracingSettings are scenario 8's settings: tracing off (the base), on
// with every trace sampled, on with the default sampler (10% of traces
// whole, every failed or slow span of the rest, all spans recorded), and
// at 10% with keep_errors and keep_slow off (only sampled spans recorded).
var tracingSettings = []struct {
	name  string
	on    bool
	ratio float64
	keep  bool // keep_errors and keep_slow at their defaults; false: both off
}{{"off", false, 0, true}, {"on, sample_ratio 1.0", true, 1, true}, {"on, default sampler", true, tracing.DefaultConfig().SampleRatio, true},
	{"on, sample_ratio 0.1, keep nothing", true, tracing.DefaultConfig().SampleRatio, false}}

// TracingRow is scenario 8 at one setting, every round's numbers.
type TracingRow struct {
	Setting   string `json:"setting"`
	IngestC1  Spread `json:"ingest_c1"`  // signed deliveries, one at a time
	IngestC16 Spread `json:"ingest_c16"` // signed deliveries, 16 at once
	Dispatch  Spread `json:"dispatch"`   // dispatcher jobs/s at capacity 64
	Spans     uint64 `json:"spans"`      // spans exported in all rounds
	// CPU time of the whole process (hub, load generator, receiver) per
	// delivery at c=16 and per job, in microseconds, one per round: less
	// disturbed by other work on a shared machine than a rate.
	IngestCPU   []float64 `json:"ingest_cpu_us"`
	DispatchCPU []float64 `json:"dispatch_cpu_us"`
}

// runTracing measures what tracing costs the ingest path and the
// dispatcher. Spans go through the real OTLP/HTTP exporter (batching,
// protobuf) to a receiver on loopback that reads and drops them, as a
// collector on the same host would take them. Each round runs every
// setting in turn, so drift on a shared machine touches all alike.
func runTracing(ctx context.Context, o Options, r *Report) error {
	recv, err := startSink()
	if err != nil {
		return err
	}
	defer recv.Close()
	rows := make([]TracingRow, len(tracingSettings))
	for i, s := range tracingSettings {
		rows[i].Setting = s.name
	}
	for round := range o.Rounds {
		for i, s := range tracingSettings {
			c := tracing.DefaultConfig()
			c.Enabled, c.SampleRatio = s.on, s.ratio
			if !s.keep {
				c.KeepErrors, c.KeepSlow = false, 0
			}
			if err := tracingRound(ctx, o, recv.URL, c, &rows[i]); err != nil {
				return fmt.Errorf("tracing %s: %w", s.name, err)
			}
			row := rows[i]
			fmt.Fprintf(o.Log, "  round %d, tracing %-22s: ingest c=1 %.0f/s, c=16 %.0f/s, dispatcher %.0f jobs/s, %d spans so far\n", round+1, row.Setting,
				last(row.IngestC1.PerSecond), last(row.IngestC16.PerSecond), last(row.Dispatch.PerSecond), row.Spans)
		}
	}
	r.Tracing = rows
	return nil
}

// tracingRound measures one setting once, tracing installed for the
// whole round (ingest, then the dispatcher on a fresh server).
func tracingRound(ctx context.Context, o Options, endpoint string, c tracing.Config, row *TracingRow) error {
	if c.Enabled {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
		if err != nil {
			return err
		}
		counted := &countingExporter{SpanExporter: exp}
		tp, err := tracing.NewProvider(ctx, c, sdktrace.NewBatchSpanProcessor(counted))
		if err != nil {
			return err
		}
		restore := tracing.Install(tp)
		defer func() {
			restore()
			_ = tp.Shutdown(context.Background()) // flushes: counted includes the round's last spans
			row.Spans += counted.n.Load()
		}()
	}
	env, err := startNATSSync(embedded.DefaultSyncInterval)
	if err != nil {
		return err
	}
	b, err := ingestbench.Start(ctx, env.nc, env.js)
	if err != nil {
		env.close()
		return err
	}
	err = func() error {
		// Unmeasured: the stream's first block and the connections.
		if _, err := b.Run(ctx, ingestbench.Scenario{Mode: ingestbench.HTTP, Concurrency: 16, Deliveries: max(o.Deliveries/10, 100), Payload: pushPayload}); err != nil {
			return err
		}
		for _, m := range []struct {
			s   *Spread
			c   int
			div int
		}{{&row.IngestC1, 1, 2}, {&row.IngestC16, 16, 1}} {
			n, cpu := o.Deliveries/m.div, cpuTime(os.Getpid())
			res, err := b.Run(ctx, ingestbench.Scenario{Mode: ingestbench.HTTP, Concurrency: m.c, Deliveries: n, Payload: pushPayload})
			if err != nil {
				return err
			}
			m.s.add(res.PerSecond, res.P99)
			if m.c == 16 {
				row.IngestCPU = append(row.IngestCPU, (cpuTime(os.Getpid())-cpu).Seconds()*1e6/float64(n))
			}
		}
		return nil
	}()
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	env.close()
	if err != nil {
		return err
	}
	env, err = startNATSSync(embedded.DefaultSyncInterval)
	if err != nil {
		return err
	}
	defer env.close()
	jobs, cpu := max(o.Jobs/2, 100), cpuTime(os.Getpid())
	rep, err := dispatchbench.Run(ctx, env.deps, dispatchbench.Options{Jobs: jobs, Capacity: 64})
	if err != nil {
		return err
	}
	row.Dispatch.add(rep.Dispatcher.PerSecond, 0)
	// dispatchbench also runs a plain HTTP loop and a failing service: the
	// CPU per job covers those too, alike in every setting.
	row.DispatchCPU = append(row.DispatchCPU, (cpuTime(os.Getpid())-cpu).Seconds()*1e6/float64(jobs))
	return nil
}

func ratio(v, base float64) string {
	if base == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", v/base)
}

// countingExporter counts the spans it exports.
type countingExporter struct {
	sdktrace.SpanExporter
	n atomic.Uint64
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.n.Add(uint64(len(spans)))
	return e.SpanExporter.ExportSpans(ctx, spans)
}

// sink is an OTLP/HTTP endpoint on loopback that reads every export and
// answers 200 with an empty ExportTraceServiceResponse.
type sink struct {
	URL string
	srv *http.Server
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty body is an empty protobuf message
	})}
	go func() { _ = srv.Serve(ln) }()
	return &sink{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

func (s *sink) Close() { _ = s.srv.Close() }

// tracingMarkdown is scenario 8's table.
func tracingMarkdown(b *strings.Builder, rows []TracingRow, rounds int) {
	b.WriteString("\n### 8. Tracing: what OpenTelemetry spans cost (OTLP/HTTP to a loopback receiver)\n\n")
	if len(rows) == 0 {
		b.WriteString("(not run)\n")
		return
	}
	fmt.Fprintf(b, "Median of %d rounds, lowest–highest in brackets; \"vs off\" is the median relative to tracing off.\n\n", rounds)
	b.WriteString("| tracing | ingest c=1 deliveries/s | p99 | vs off | ingest c=16 deliveries/s | p99 | vs off | CPU µs per delivery (c=16) | vs off | dispatcher jobs/s (capacity 64) | vs off | CPU µs per job | vs off | spans exported |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	base := rows[0]
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %.0f | %s | %s | %s | %.0f | %s | %d |\n", row.Setting,
			rate(row.IngestC1), ms(row.IngestC1.MedianP99()), rel(row.IngestC1, base.IngestC1),
			rate(row.IngestC16), ms(row.IngestC16.MedianP99()), rel(row.IngestC16, base.IngestC16),
			median(row.IngestCPU), ratio(median(row.IngestCPU), median(base.IngestCPU)),
			rate(row.Dispatch), rel(row.Dispatch, base.Dispatch),
			median(row.DispatchCPU), ratio(median(row.DispatchCPU), median(base.DispatchCPU)), row.Spans)
	}
	b.WriteString("\nThe default sampler records every span (so a failed or slow one can be kept) and exports a tenth of the traces whole; \"keep nothing\" (`keep_errors: false`, `keep_slow: 0`) records only the sampled tenth. The receiver shares the machine's cores with the hub and the load generator.\n")
}
