package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/promengine"
)

// TestExampleRealMattermost loads the shipped configs for a real Mattermost
// (examples/real-mattermost, docs/real-mattermost.md) as the binaries load them (every field
// known and valid), and evaluates its server-side queries on the metrics mmsim exposes under
// the real server's names: 0 % of 5xx on a healthy server (not "no data", which would stop
// the search), the share of 5xx when there are some, and the handlers' p99.
func TestExampleRealMattermost(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "real-mattermost")
	cfg := coordinator.DefaultConfig()
	if err := config.Load(filepath.Join(dir, "coordinator.json"), &cfg); err != nil {
		t.Fatal(err)
	}
	lt := agentconfig.DefaultConfig()
	if err := config.Load(filepath.Join(dir, "config.json"), &lt); err != nil {
		t.Fatal(err)
	}
	queries := map[string]string{}
	for _, q := range cfg.MonitorConfig.Queries {
		queries[q.Description] = q.Query
	}
	for _, d := range []string{"Percentage of HTTP 5xx answers, server side", "99th percentile of API handler time, server side",
		"99th percentile of database store time, server side", "CPU utilization, average of app nodes", "Memory utilization, average of app nodes"} {
		if queries[d] == "" {
			t.Errorf("no query %q", d)
		}
	}

	mm := mmsimtest.Start(t, nil)
	metrics := httptest.NewServer(mm.MetricsHandler())
	defer metrics.Close()
	eng, err := promengine.New(promengine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	eng.AddTarget(promengine.Target{Job: "mattermost", URL: metrics.URL + "/metrics"})
	ctx := context.Background()
	traffic := func(path string, n int) {
		for range n {
			resp, err := http.Get(mm.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	t0 := time.Now()
	traffic("/api/v4/system/ping", 10)
	eng.ScrapeOnce(ctx, t0)
	traffic("/api/v4/system/ping", 100)
	eng.ScrapeOnce(ctx, t0.Add(15*time.Second))
	share := queries["Percentage of HTTP 5xx answers, server side"]
	if v, err := eng.Query(ctx, share, t0.Add(15*time.Second)); err != nil || v != 0 {
		t.Errorf("5xx share on a healthy server = %v, %v; want 0", v, err)
	}
	if v, err := eng.Query(ctx, queries["99th percentile of API handler time, server side"], t0.Add(15*time.Second)); err != nil || v <= 0 || v > 1 {
		t.Errorf("p99 handler time = %v, %v; want a small positive number of seconds", v, err)
	}
	// A second app node whose handler fails: 20 answers of 500, in the same exposition
	// format and labels as the server's (and mmsim's) mattermost_api_time.
	reg := prometheus.NewRegistry()
	apiTime := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mattermost_api_time", Help: "API handler time."},
		[]string{"handler", "method", "status_code"})
	reg.MustRegister(apiTime)
	app2 := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer app2.Close()
	apiTime.WithLabelValues("createPost", "POST", "500").Observe(0.01)
	eng.AddTarget(promengine.Target{Job: "mattermost2", URL: app2.URL + "/metrics"})
	eng.ScrapeOnce(ctx, t0.Add(30*time.Second))
	for range 20 {
		apiTime.WithLabelValues("createPost", "POST", "500").Observe(0.01)
	}
	traffic("/api/v4/system/ping", 100)
	eng.ScrapeOnce(ctx, t0.Add(45*time.Second))
	v, err := eng.Query(ctx, share, t0.Add(45*time.Second))
	if err != nil || v < 5 || v > 30 {
		t.Errorf("5xx share with 20 failures among about 120 = %v %%, %v; want about 15 %%", v, err)
	}
	if !strings.Contains(share, "or vector(0)") {
		t.Errorf("the 5xx query %q lacks `or vector(0)`: a healthy server would give no data", share)
	}
}
