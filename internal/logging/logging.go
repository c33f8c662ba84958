// Package logging builds a *slog.Logger from the seed's LogSettings: a console sink and a file
// sink, each with its own level and format.
package logging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/loadtest/loadtest/internal/config"
)

// Settings are the seed's LogSettings, with the same field names.
type Settings struct {
	EnableConsole bool   // write to the console (standard error)
	ConsoleJson   bool   //nolint:revive // seed field name
	ConsoleLevel  string // DEBUG, INFO, WARN or ERROR
	EnableFile    bool   // also write to FileLocation
	FileJson      bool   //nolint:revive // seed field name
	FileLevel     string // DEBUG, INFO, WARN or ERROR
	FileLocation  string // path of the log file, appended to
	EnableColor   bool   // colour the level in console text output
}

// DefaultSettings returns the settings used when a config file leaves LogSettings out:
// INFO to the console as text, no file.
func DefaultSettings() Settings {
	return Settings{
		EnableConsole: true,
		ConsoleLevel:  "INFO",
		FileLevel:     "INFO",
		FileJson:      true,
		FileLocation:  "loadtest.log",
	}
}

// Validate checks the levels and that a file sink has a location.
func (s Settings) Validate() error {
	var c config.Checker
	levels := "must be one of DEBUG, INFO, WARN, ERROR"
	_, err := ParseLevel(s.ConsoleLevel)
	c.Check(err == nil, "ConsoleLevel", s.ConsoleLevel, levels)
	_, err = ParseLevel(s.FileLevel)
	c.Check(err == nil, "FileLevel", s.FileLevel, levels)
	c.Check(!s.EnableFile || s.FileLocation != "", "FileLocation", s.FileLocation, "must be set when EnableFile is true")
	return c.Err()
}

// ParseLevel parses a level name, case-insensitively. WARNING is accepted for WARN.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q", s)
}

// New returns a logger for s that writes console output to console. The returned close
// function closes the log file, if any; it is never nil.
func New(s Settings, console io.Writer) (*slog.Logger, func() error, error) {
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	var hs []slog.Handler
	closeFn := func() error { return nil }
	if s.EnableConsole {
		lvl, _ := ParseLevel(s.ConsoleLevel) // validated above
		w := console
		if s.EnableColor && !s.ConsoleJson {
			w = colorWriter{console}
		}
		hs = append(hs, newHandler(w, s.ConsoleJson, lvl))
	}
	if s.EnableFile {
		f, err := os.OpenFile(s.FileLocation, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("LogSettings.FileLocation: %w", err)
		}
		lvl, _ := ParseLevel(s.FileLevel)
		hs = append(hs, newHandler(f, s.FileJson, lvl))
		closeFn = f.Close
	}
	switch len(hs) {
	case 0:
		return slog.New(slog.DiscardHandler), closeFn, nil
	case 1:
		return slog.New(hs[0]), closeFn, nil
	}
	return slog.New(fanout(hs)), closeFn, nil
}

func newHandler(w io.Writer, json bool, lvl slog.Level) slog.Handler {
	opts := &slog.HandlerOptions{Level: lvl}
	if json {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// colorWriter colours each text record by its level. slog's text handler writes one record
// per Write call, so a line can be coloured whole without parsing it.
type colorWriter struct{ w io.Writer }

func (c colorWriter) Write(p []byte) (int, error) {
	code := ""
	switch {
	case bytes.Contains(p, []byte("level=ERROR")):
		code = "31"
	case bytes.Contains(p, []byte("level=WARN")):
		code = "33"
	case bytes.Contains(p, []byte("level=DEBUG")):
		code = "36"
	}
	if code == "" {
		return c.w.Write(p)
	}
	line := bytes.TrimSuffix(p, []byte("\n"))
	out := make([]byte, 0, len(p)+12)
	out = append(out, "\x1b["+code+"m"...)
	out = append(out, line...)
	out = append(out, "\x1b[0m\n"...)
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fanout sends each record to every handler that is enabled for its level.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
