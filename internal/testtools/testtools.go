// Package testtools finds the installed programs that end-to-end tests run (Prometheus,
// Chromium). `make deps` installs them; .ci/run sets CI, where a missing one fails the test
// instead of skipping it, so CI can never pass by skipping.
package testtools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Require returns the path of the program name, or skips the test (fails it when $CI is set)
// saying which Debian package provides it.
func Require(tb testing.TB, name, pkg string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s is not installed; `make deps` installs it (apt-get install %s)", name, pkg)
	}
	tb.Skipf("%s is not installed (apt-get install %s, or make deps)", name, pkg)
	return ""
}

// ChromiumFlags are the flags that make Debian's Chromium run headless here: as root, with no
// GPU, and without the background connections a closed network refuses.
var ChromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"}

// DefaultFile keeps the defaults file at path equal, byte for byte, to v marshalled as JSON
// with two-space indents: the file is generated from the code's defaults, so no field can
// be missing from it. With LOADTEST_UPDATE_DEFAULTS=1 it writes the file instead
// (LOADTEST_UPDATE_DEFAULTS=1 go test ./... -run TestDefaultConfigFile).
func DefaultFile(tb testing.TB, path string, v any) {
	tb.Helper()
	want, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	want = append(want, '\n')
	if os.Getenv("LOADTEST_UPDATE_DEFAULTS") == "1" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s is not the code's defaults; regenerate it with LOADTEST_UPDATE_DEFAULTS=1 go test ./... -run TestDefaultConfigFile\n%s",
			path, firstDiff(string(got), string(want)))
	}
}

// firstDiff shows the first line where the file and the defaults differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: file %q, defaults %q", i+1, gl, wl)
		}
	}
	return ""
}

// LockedBuffer collects what goroutines write (a logger's output, a command's) for a test to
// read while they still run.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Eventually waits, polling every 10 ms, until cond holds, and fails the test after within
// with what it waited for: a poll in a test always has a deadline.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: still waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
