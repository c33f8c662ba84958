package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// start runs mmsim's run() with args and returns the API and metrics URLs it announces.
func start(t *testing.T, args ...string) (api, metrics string, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(10 * time.Second):
			t.Error("mmsim did not stop within 10s of cancellation")
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	if err != nil {
		t.Fatalf("no announcement line: %v", err)
	}
	m := regexp.MustCompile(`API on (\S+), metrics on (\S+),`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("announcement %q does not name the addresses", line)
	}
	return m[1], m[2], errc
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRun_ServesAPIAndMetrics(t *testing.T) {
	api, metrics, _ := start(t, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--workers", "8", "--service-time", "2ms")
	if code, body := get(t, api+"/api/v4/system/ping"); code != 200 || !strings.Contains(body, "OK") {
		t.Fatalf("ping = %d %s", code, body)
	}
	code, body := get(t, metrics)
	if code != 200 || !strings.Contains(body, `mattermost_api_time_count{handler="getSystemPing",method="GET",status_code="200"} 1`) ||
		!strings.Contains(body, "mmsim_capacity_workers 8") {
		t.Fatalf("metrics = %d, missing the ping or the capacity model:\n%s", code, body)
	}
}

func TestRun_ConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mmsim.json")
	cfg := map[string]any{"ListenAddress": "127.0.0.1:0", "MetricsListenAddress": "", "Capacity": map[string]any{"Workers": 2, "ServiceTimeMs": 5}}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	api, metrics, _ := start(t, "--config", path)
	if metrics != "disabled" {
		t.Errorf("metrics = %q; want disabled by the config file", metrics)
	}
	if code, _ := get(t, api+"/"); code != 200 {
		t.Errorf("GET / = %d", code)
	}
}

func TestRun_BadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"Capacity": {"Workers": 4, "ServiceTime": 5}}`), 0o600)
	neg := filepath.Join(dir, "neg.json")
	_ = os.WriteFile(neg, []byte(`{"Capacity": {"Workers": -1}}`), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", bad}, `unknown field "Capacity.ServiceTime" (did you mean "ServiceTimeMs"?)`},
		{[]string{"--config", neg}, "Capacity.Workers: must be >= 0"},
		{[]string{"--config", filepath.Join(dir, "nope.json")}, "nope.json"},
		{[]string{"--workers", "4"}, "Capacity.ServiceTimeMs: must be > 0 when Workers is set"},
		{[]string{"--service-distribution", "uniform"}, `Capacity.Distribution: must be "constant" or "exponential", got "uniform"`},
		{[]string{"--metrics-listen", "nonsense"}, `MetricsListenAddress: must be host:port or empty, got "nonsense"`},
		{[]string{"--log-level", "LOUD"}, "LogSettings.ConsoleLevel"},
		{[]string{"--workers", "many"}, `invalid argument "many"`},
		{[]string{"extra"}, "unknown command"},
	} {
		// A cancelled context: should an input be wrongly accepted, run returns at once
		// instead of serving.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := run(ctx, append([]string{"--listen=127.0.0.1:0", "--metrics-listen="}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v; want an error mentioning %q", tc.args, err, tc.want)
		}
	}
}

// TestVersion: --version prints the build and exits 0 without serving.
func TestVersion(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"--version"}, &out, &out); err != nil || !strings.HasPrefix(out.String(), "mmsim ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("--version: %v, %q", err, out.String())
	}
}
