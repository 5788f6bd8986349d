package service

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/config"
)

type echoed struct{ s string }

func (e echoed) LogValue() slog.Value { return slog.StringValue("valuer " + e.s) }

type answer struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

func TestLoggerScrubsSecretsFromEveryPartOfALine(t *testing.T) {
	const token = "tok-9c1e55d0a7b3"
	config.NewSecret("Bearer " + token)
	var b bytes.Buffer
	l := NewLogger(&b, LogConfig{Level: "debug"}, "dispatcher").With("early", "with "+token)
	l = l.WithGroup("call").With("grouped", token)
	l.Info("service answered: Authorization: Bearer "+token,
		"error", fmt.Errorf("POST /x: 500: %w", errors.New("echo "+token)),
		"answer", answer{Status: 500, Body: "got Bearer " + token},
		"map", map[string]any{"auth": token},
		"valuer", echoed{token},
		slog.Group("nested", "deep", token, "n", 7),
		"count", 3,
	)
	line := b.String()
	if strings.Contains(line, token) {
		t.Fatalf("the token reached the log: %s", line)
	}
	for _, want := range []string{`"msg":"service answered: Authorization: [redacted]"`, `"early":"with [redacted]"`,
		`"grouped":"[redacted]"`, `"error":"POST /x: 500: echo [redacted]"`, `"answer":{"status":500,"body":"got [redacted]"}`,
		`"map":{"auth":"[redacted]"}`, `"valuer":"valuer [redacted]"`, `"nested":{"deep":"[redacted]","n":7}`, `"count":3`,
		`"service":"dispatcher"`} {
		if !strings.Contains(line, want) {
			t.Errorf("the line lacks %s: %s", want, line)
		}
	}
}

func TestLoggerLeavesLinesWithoutSecretsAsTheyWere(t *testing.T) {
	config.NewSecret("some-registered-secret")
	var scrubbed, plain bytes.Buffer
	args := []any{"error", errors.New("HTTP 500 <html>&"), "answer", answer{Status: 502, Body: "<b>x</b>"}, "n", 1.5}
	slog.New(ScrubHandler(slog.NewJSONHandler(&scrubbed, nil))).Info("a <message>", args...)
	slog.New(slog.NewJSONHandler(&plain, nil)).Info("a <message>", args...)
	strip := func(s string) string { return s[strings.Index(s, `"level"`):] } // the times differ
	if strip(scrubbed.String()) != strip(plain.String()) {
		t.Errorf("scrubbing changed a line with no secret:\n%s\n%s", scrubbed.String(), plain.String())
	}
}

// BenchmarkLogLine is one webhook request's line, plain and through the
// scrubber with a hub's worth of secrets registered (none in the line).
func BenchmarkLogLine(b *testing.B) {
	for _, s := range []string{"Bearer bench-ocr-token-1", "bench-odoo-api-key-2", "bench-webhook-secret-3",
		"bench-source-token-0123456789", "Basic " + "YmVuY2gtdXNlcjpiZW5jaC1wYXNzd29yZA=="} {
		config.NewSecret(s)
	}
	line := func(l *slog.Logger) {
		l.Info("webhook", "correlation_id", "0193a0e2-7c1d-7b4e-9f1a-3c2b1d0e9f8a", "route", "POST /github",
			"status", 202, "outcome", "stored", "duration_ms", 1.25, "subject", "github.issues.opened", "stream_seq", 42)
	}
	for _, tc := range []struct {
		name string
		h    slog.Handler
	}{
		{"plain", slog.NewJSONHandler(io.Discard, nil)},
		{"scrubbed", ScrubHandler(slog.NewJSONHandler(io.Discard, nil))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := slog.New(tc.h).With("service", "ingester")
			b.ReportAllocs()
			for b.Loop() {
				line(l)
			}
		})
	}
}
