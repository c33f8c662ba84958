// Package testtools finds the installed programs that end-to-end tests run (Prometheus,
// Chromium). `make deps` installs them; .ci/run sets CI, where a missing one fails the test
// instead of skipping it, so CI can never pass by skipping.
package testtools

import (
	"os"
	"os/exec"
	"testing"
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
