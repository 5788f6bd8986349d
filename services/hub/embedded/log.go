package embedded

import (
	"context"
	"fmt"
	"log/slog"
)

// SlogLogger adapts a *slog.Logger to nats-server's Logger, so the embedded
// server's lines are JSON like the rest of the hub's.
type SlogLogger struct{ L *slog.Logger }

func (l SlogLogger) log(level slog.Level, format string, v []any) {
	if l.L.Enabled(context.Background(), level) {
		l.L.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}

// Noticef logs at info.
func (l SlogLogger) Noticef(format string, v ...any) { l.log(slog.LevelInfo, format, v) }

// Warnf logs at warn.
func (l SlogLogger) Warnf(format string, v ...any) { l.log(slog.LevelWarn, format, v) }

// Fatalf logs at error; the server stops itself after a fatal error.
func (l SlogLogger) Fatalf(format string, v ...any) { l.log(slog.LevelError, format, v) }

// Errorf logs at error.
func (l SlogLogger) Errorf(format string, v ...any) { l.log(slog.LevelError, format, v) }

// Debugf logs at debug.
func (l SlogLogger) Debugf(format string, v ...any) { l.log(slog.LevelDebug, format, v) }

// Tracef logs at debug - 4.
func (l SlogLogger) Tracef(format string, v ...any) { l.log(slog.LevelDebug-4, format, v) }
