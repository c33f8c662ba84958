package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/internal/mmsim"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/testtools"
)

// startPrometheus runs the real Prometheus server (Debian's package; `make deps` installs it)
// on a loopback port, scraping targets every second, until the test ends.
func startPrometheus(t *testing.T, targets map[string]string) string {
	t.Helper()
	bin := testtools.Require(t, "prometheus", "prometheus")
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n")
	for job, u := range targets {
		host := strings.TrimPrefix(u, "http://")
		fmt.Fprintf(&cfg, "  - job_name: %s\n    static_configs:\n      - targets: ['%s']\n", job, host)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	url := "http://" + addr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus targets: %s", get(url+"/api/v1/targets"))
		}
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready on %s after 30s:\n%s", addr, logs.String())
		}
	}
}

// TestRun_Prometheus runs the search with MonitorConfig.PrometheusURL: a real Prometheus
// scrapes a real agent (its HTTP API and /metrics) and mmsim, and answers the queries over its
// HTTP API. mmsim serves 100 requests/s (2 workers x 20 ms) and noop users make one request a
// second, so a 100 ms mean-latency threshold holds up to 2 x 1.1 / 0.02 = 110 users.
func TestRun_Prometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a capacity search (about a minute)")
	}
	mm := mmsimtest.Start(t, func(c *mmsim.Config) {
		c.Capacity = mmsim.CapacityConfig{Workers: 2, ServiceTimeMs: 20, Distribution: "constant"}
	})
	mmsimtest.CreateTeam(t, mm.URL, mm.Config, "team1")
	mmMetrics := httptest.NewServer(mm.MetricsHandler())
	defer mmMetrics.Close()
	srv := agent.NewServer(agent.ServerOptions{})
	hs := httptest.NewServer(api.Handler(srv, api.HandlerOptions{}))
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	prom := startPrometheus(t, map[string]string{"agents": hs.URL, "mmsim": mmMetrics.URL})

	dir := t.TempDir()
	cfg := coordinator.DefaultConfig()
	cfg.ClusterConfig.Agents = []coordinator.AgentConfig{{Id: "lt0", ApiURL: hs.URL}}
	cfg.ClusterConfig.MaxActiveUsers = 400
	cfg.MonitorConfig.PrometheusURL = prom
	cfg.MonitorConfig.QueryFailureTimeoutSec = 20
	cfg.MonitorConfig.Queries = append(cfg.MonitorConfig.Queries, coordinator.Query{
		Description: "Target's busy workers", Query: "sum(mmsim_capacity_busy_workers)", Threshold: 1e9})
	cfg.Search.HoldSec, cfg.Search.SettleSec, cfg.Search.RampRate, cfg.Search.StartUsers = 4, 2, 25, 20
	out := runNoop(t, dir, cfg, mm.URL)
	if !strings.Contains(out, "monitor: Prometheus at "+prom) {
		t.Errorf("the output does not name the Prometheus it asks:\n%s", out)
	}
	r := readReport(t, out)
	const truth = 110.0
	if e := math.Abs(float64(r.SupportedUsers)-truth) / truth; e > 0.05 || r.AtLeast {
		t.Fatalf("found %d users, the model says %.0f (%.1f%% off):\n%s", r.SupportedUsers, truth, 100*e, out)
	}
	t.Logf("%s", out)
	if !strings.HasSuffix(out, fmt.Sprintf("supported users: %d\n", r.SupportedUsers)) {
		t.Fatalf("output:\n%s", out)
	}
	// The server-side query was answered from mmsim's own metrics: a failing probe keeps
	// both workers busy most of the time, a passing one less.
	var failBusy float64
	for _, p := range r.Probes {
		if len(p.Values) != len(cfg.MonitorConfig.Queries) {
			t.Fatalf("probe %d: %d values for %d queries", p.Users, len(p.Values), len(cfg.MonitorConfig.Queries))
		}
		if p.Verdict == search.Fail {
			failBusy = max(failBusy, p.Values[len(p.Values)-1])
		}
	}
	if failBusy < 1 || failBusy > 2 {
		t.Errorf("busy workers during failing probes %v; want within (1, 2]", failBusy)
	}
}

// get is the body at url, or the error, for a failing test's log.
func get(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
