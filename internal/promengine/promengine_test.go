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
