package logging

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNew_ConsoleAndFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lt.log")
	var console bytes.Buffer
	log, closeFn, err := New(Settings{
		EnableConsole: true, ConsoleLevel: "WARN",
		EnableFile: true, FileJson: true, FileLevel: "debug", FileLocation: path,
	}, &console)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("dbg", "k", 1)
	log.Warn("careful", "k", 2)
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	if c := console.String(); strings.Contains(c, "dbg") || !strings.Contains(c, "careful") || !strings.Contains(c, "k=2") {
		t.Errorf("console = %q; want only the WARN record, as text", c)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("file has %d lines; want 2 (DEBUG and WARN): %q", len(lines), b)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec["msg"] != "dbg" {
		t.Errorf("file line %q is not the JSON debug record: %v", lines[0], err)
	}
}

func TestNew_Color(t *testing.T) {
	var console bytes.Buffer
	log, _, err := New(Settings{EnableConsole: true, ConsoleLevel: "INFO", EnableColor: true, FileLevel: "INFO"}, &console)
	if err != nil {
		t.Fatal(err)
	}
	log.Error("boom")
	if c := console.String(); !strings.HasPrefix(c, "\x1b[31m") || !strings.HasSuffix(c, "msg=boom\x1b[0m\n") {
		t.Errorf("console = %q; want a red ERROR", console.String())
	}
}

func TestSettings_Validate(t *testing.T) {
	err := Settings{ConsoleLevel: "LOUD", FileLevel: "INFO", EnableFile: true}.Validate()
	if err == nil || !strings.Contains(err.Error(), `ConsoleLevel: must be one of DEBUG, INFO, WARN, ERROR, got "LOUD"`) ||
		!strings.Contains(err.Error(), "FileLocation") {
		t.Errorf("Validate = %v; want errors for ConsoleLevel and FileLocation", err)
	}
	if _, _, err := New(Settings{ConsoleLevel: "INFO", FileLevel: "INFO", EnableFile: true, FileLocation: filepath.Join(t.TempDir(), "no", "such", "dir", "x.log")}, nil); err == nil {
		t.Error("New with an unwritable FileLocation succeeded; want an error")
	}
}
