package app

import (
	"io"
	"log/slog"
	"strings"
)

// secretKeys are attribute names whose values never reach a log line.
var secretKeys = []string{"token", "secret", "password", "api_key", "apikey", "authorization", "code", "verifier", "key", "credential"}

// NewLogger returns a JSON logger that redacts attributes named like secrets.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // validated by config
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: redact}))
}

func redact(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range secretKeys {
		if k == s || strings.HasSuffix(k, "_"+s) || strings.HasPrefix(k, s+"_") {
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}
