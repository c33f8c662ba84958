package promengine

import (
	"context"
	"errors"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestScrapeAndQuery scrapes real client_golang exposition and evaluates the seed's kind of
// queries (rate of a counter, mean from a histogram's sum and count, histogram_quantile).
func TestScrapeAndQuery(t *testing.T) {
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reqs_total"}, []string{"code"})
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lat_seconds", Buckets: []float64{.05, .1, .2, .5}})
	reg.MustRegister(reqs, lat)
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer hs.Close()

	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.AddTarget(Target{Job: "agents", URL: hs.URL})
	ctx := context.Background()
	t0 := time.Now()
	// 11 scrapes, 1 s apart in sample time: 10 requests a second, half 5xx, each 0.15 s.
	for i := range 11 {
		e.ScrapeOnce(ctx, t0.Add(time.Duration(i)*time.Second))
		for range 5 {
			reqs.WithLabelValues("200").Inc()
			reqs.WithLabelValues("500").Inc()
			lat.Observe(0.15)
			lat.Observe(0.15)
		}
	}
	at := t0.Add(10 * time.Second)
	for q, want := range map[string]float64{
		`sum(rate(reqs_total[10s]))`: 10,
		`sum(rate(reqs_total{code=~"5.."}[10s])) / sum(rate(reqs_total[10s])) * 100`: 50,
		`sum(rate(lat_seconds_sum[10s])) / sum(rate(lat_seconds_count[10s]))`:        0.15,
		`histogram_quantile(0.5, sum(rate(lat_seconds_bucket[10s])) by (le))`:        0.15,
		`up{job="agents"}`: 1,
	} {
		got, err := e.Query(ctx, q, at)
		if err != nil || math.Abs(got-want) > want*0.02 {
			t.Errorf("%s = %v, %v; want %v", q, got, err, want)
		}
	}
	for q, wantErr := range map[string]string{
		`sum(rate(nothing_total[10s]))`: "no data",
		`rate(reqs_total[10s])`:         "2 series",
		`sum(rate(lat_seconds_sum[10s])) / sum(rate(reqs_total{code="x"}[10s]))`: "no data",
		`0/0`:         "NaN",
		`sum(rate(x[`: "parse error",
	} {
		_, err := e.Query(ctx, q, at)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: %v; want an error saying %q", q, err, wantErr)
		}
	}
	if !errors.Is(func() error { _, err := e.Query(ctx, `0/0`, at); return err }(), ErrNaN) {
		t.Error("0/0 is not ErrNaN")
	}
}

// TestDownTarget checks that a target that does not answer is up == 0 and has an error.
func TestDownTarget(t *testing.T) {
	hs := httptest.NewServer(nil)
	url := hs.URL + "/metrics"
	hs.Close()
	e, err := New(Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.AddTarget(Target{Job: "agents", URL: url})
	now := time.Now()
	e.ScrapeOnce(context.Background(), now)
	if v, err := e.Query(context.Background(), `up`, now); err != nil || v != 0 {
		t.Fatalf("up = %v, %v; want 0", v, err)
	}
	if e.Health()[url] == nil {
		t.Fatal("no scrape error recorded")
	}
}

// TestStaleness: a target whose scrape fails has its series marked stale at once, as
// Prometheus does, so a query no longer reads a dead agent's last value for the 5-minute
// lookback; a series a later scrape lacks goes stale the same way, and the others stay.
func TestStaleness(t *testing.T) {
	reg := prometheus.NewRegistry()
	starting := prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadtest_users_starting"})
	gone := prometheus.NewGauge(prometheus.GaugeOpts{Name: "gone"})
	reg.MustRegister(starting, gone)
	starting.Set(25)
	gone.Set(1)
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	other := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer other.Close()
	e, err := New(Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.AddTarget(Target{Job: "agents", URL: hs.URL})
	e.AddTarget(Target{Job: "agents", URL: other.URL})
	ctx := context.Background()
	t0 := time.Now()
	e.ScrapeOnce(ctx, t0)
	if v, err := e.Query(ctx, `sum(loadtest_users_starting)`, t0.Add(time.Second)); err != nil || v != 50 {
		t.Fatalf("before: %v, %v; want 50 from both targets", v, err)
	}
	reg.Unregister(gone) // the series leaves both targets' pages
	hs.Close()           // and one target dies
	e.ScrapeOnce(ctx, t0.Add(time.Second))
	at := t0.Add(2 * time.Second)
	if v, err := e.Query(ctx, `sum(loadtest_users_starting)`, at); err != nil || v != 25 {
		t.Errorf("after one target died: %v, %v; want 25, the live target's alone", v, err)
	}
	if _, err := e.Query(ctx, `sum(gone)`, at); !errors.Is(err, ErrEmpty) {
		t.Errorf("a series no scrape has any more: %v; want no data", err)
	}
	if v, err := e.Query(ctx, `count(up == 0)`, at); err != nil || v != 1 {
		t.Errorf("up == 0 for %v targets, %v; want the dead one", v, err)
	}
}

// TestGatherer reads a target in process, with no port: the same series, job and instance
// labels, and staleness as a scrape over HTTP.
func TestGatherer(t *testing.T) {
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounter(prometheus.CounterOpts{Name: "reqs_total"})
	reg.MustRegister(reqs)
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.AddTarget(Target{Job: "inproc", URL: "inprocess://a", Gatherer: reg})
	ctx := context.Background()
	t0 := time.Now()
	e.ScrapeOnce(ctx, t0)
	reqs.Add(30)
	e.ScrapeOnce(ctx, t0.Add(10*time.Second))
	if v, err := e.Query(ctx, `reqs_total{job="inproc",instance="inprocess://a"}`, t0.Add(10*time.Second)); err != nil || v != 30 {
		t.Errorf("reqs_total = %v, %v; want 30", v, err)
	}
	if v, err := e.Query(ctx, `up{job="inproc"}`, t0.Add(10*time.Second)); err != nil || v != 1 {
		t.Errorf("up = %v, %v; want 1", v, err)
	}
	if h := e.Health(); h["inprocess://a"] != nil {
		t.Errorf("health %v", h)
	}
}
