// Package writer sends a plan's periods out as they end: a CSV file, JSON lines, a
// Prometheus exposition, CloudWatch metrics. Open builds them from the plan's Writers.
package writer

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// csvWriter writes one row per metric per period.
type csvWriter struct {
	f *os.File
	w *csv.Writer
}

// CSVHeader is the header row of a plan's CSV file. Histogram rows fill count to max_ms;
// counter rows ("counter <name>"), "users" and "utilization" fill value.
var CSVHeader = []string{"period_start", "period_end", "phase", "metric", "count", "errors", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms", "value", "saturated"}

func newCSVWriter(path string) (*csvWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("Writers.CSV: %w", err)
	}
	w := csv.NewWriter(f)
	if err := w.Write(CSVHeader); err != nil {
		f.Close()
		return nil, err
	}
	return &csvWriter{f: f, w: w}, nil
}

func (c *csvWriter) Write(_ context.Context, p plan.Period) error {
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
	}
	head := []string{p.Start.UTC().Format(time.RFC3339), p.End.UTC().Format(time.RFC3339), p.Phase}
	sat := strconv.FormatBool(p.Saturated)
	for _, m := range p.Metrics {
		_ = c.w.Write(append(slices.Clone(head), m.Key, strconv.FormatInt(m.Count, 10), strconv.FormatInt(m.Errors, 10),
			ms(m.Mean), ms(m.P50), ms(m.P90), ms(m.P99), ms(m.Max), "", sat))
	}
	for _, k := range slices.Sorted(maps.Keys(p.Counters)) {
		_ = c.w.Write(append(slices.Clone(head), "counter "+k, "", "", "", "", "", "", "", strconv.FormatInt(p.Counters[k], 10), sat))
	}
	_ = c.w.Write(append(slices.Clone(head), "users", "", "", "", "", "", "", "", strconv.Itoa(p.Users), sat))
	_ = c.w.Write(append(slices.Clone(head), "utilization", "", "", "", "", "", "", "", strconv.FormatFloat(p.Utilization, 'f', 3, 64), sat))
	c.w.Flush()
	return c.w.Error()
}

func (c *csvWriter) Close() error { return c.f.Close() }

// jsonLinesWriter writes one Period per line.
type jsonLinesWriter struct {
	f   *os.File
	enc *json.Encoder
}

func newJSONLinesWriter(path string) (*jsonLinesWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("Writers.JSONLines: %w", err)
	}
	return &jsonLinesWriter{f: f, enc: json.NewEncoder(f)}, nil
}

func (j *jsonLinesWriter) Write(_ context.Context, p plan.Period) error { return j.enc.Encode(p) }
func (j *jsonLinesWriter) Close() error                                 { return j.f.Close() }

// promWriter serves the plan's metrics in Prometheus exposition: counters that add up over
// the periods, and the latest period's quantiles and gauges.
type promWriter struct {
	srv  *http.Server
	addr string
	done chan struct{}

	mu       sync.Mutex
	count    map[string]int64 // guarded by mu: by metric, over all periods
	errs     map[string]int64 // guarded by mu
	counters map[string]int64 // guarded by mu
	last     plan.Period      // guarded by mu
}

func newPromWriter(addr string) (*promWriter, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("Writers.PrometheusListen %s: %w", addr, err)
	}
	w := &promWriter{addr: ln.Addr().String(), done: make(chan struct{}), count: map[string]int64{}, errs: map[string]int64{}, counters: map[string]int64{}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(w)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	w.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { // its owner is Close, which waits for it
		defer close(w.done)
		_ = w.srv.Serve(ln)
	}()
	return w, nil
}

var (
	promRequests = prometheus.NewDesc("loadtest_plan_observations_total", "Observations per metric (requests, phases, timings, iterations), summed over the plan's periods.", []string{"metric"}, nil)
	promErrors   = prometheus.NewDesc("loadtest_plan_errors_total", "Failed observations per metric.", []string{"metric"}, nil)
	promLatency  = prometheus.NewDesc("loadtest_plan_latency_seconds", "The latest period's latency quantiles per metric, merged across agents.", []string{"metric", "quantile"}, nil)
	promCounter  = prometheus.NewDesc("loadtest_plan_counter_total", "Scripts' inc_counter counters, summed over the periods.", []string{"name"}, nil)
	promUsers    = prometheus.NewDesc("loadtest_plan_users", "Active users at the end of the latest period.", nil, nil)
	promUtil     = prometheus.NewDesc("loadtest_plan_agent_utilization", "The highest agent's utilization in the latest period (0..1).", nil, nil)
)

func (w *promWriter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{promRequests, promErrors, promLatency, promCounter, promUsers, promUtil} {
		ch <- d
	}
}

func (w *promWriter) Collect(ch chan<- prometheus.Metric) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, n := range w.count {
		ch <- prometheus.MustNewConstMetric(promRequests, prometheus.CounterValue, float64(n), k)
		ch <- prometheus.MustNewConstMetric(promErrors, prometheus.CounterValue, float64(w.errs[k]), k)
	}
	for _, m := range w.last.Metrics {
		for q, d := range map[string]time.Duration{"0.5": m.P50, "0.9": m.P90, "0.99": m.P99, "1": m.Max} {
			ch <- prometheus.MustNewConstMetric(promLatency, prometheus.GaugeValue, d.Seconds(), m.Key, q)
		}
	}
	for k, n := range w.counters {
		ch <- prometheus.MustNewConstMetric(promCounter, prometheus.CounterValue, float64(n), k)
	}
	ch <- prometheus.MustNewConstMetric(promUsers, prometheus.GaugeValue, float64(w.last.Users))
	ch <- prometheus.MustNewConstMetric(promUtil, prometheus.GaugeValue, w.last.Utilization)
}

func (w *promWriter) Write(_ context.Context, p plan.Period) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range p.Metrics {
		w.count[m.Key] += m.Count
		w.errs[m.Key] += m.Errors
	}
	for k, n := range p.Counters {
		w.counters[k] += n
	}
	w.last = p
	return nil
}

// Addr is where the exposition is served (host:port).
func (w *promWriter) Addr() string { return w.addr }

func (w *promWriter) Close() error {
	err := w.srv.Close()
	<-w.done
	return err
}

// cloudWatchWriter sends each period with PutMetricData: a statistic set (count, sum, min,
// max, in milliseconds) per histogram metric, and a count per counter.
type cloudWatchWriter struct {
	cfg    plan.CloudWatchWriter
	plan   string
	client *cloudwatch.Client
}

func newCloudWatchWriter(ctx context.Context, cfg plan.CloudWatchWriter, name string) (*cloudWatchWriter, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("Writers.CloudWatch: the AWS environment: %w", err)
	}
	if ac.Region == "" {
		return nil, errors.New("Writers.CloudWatch.Region: not set, and AWS_REGION (or a profile's region) is not either")
	}
	client := cloudwatch.NewFromConfig(ac, func(o *cloudwatch.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &cloudWatchWriter{cfg: cfg, plan: name, client: client}, nil
}

// cloudWatchBatch is how many data a PutMetricData call carries (the API takes up to 1000).
const cloudWatchBatch = 500

func (c *cloudWatchWriter) Write(ctx context.Context, p plan.Period) error {
	dims := []cwtypes.Dimension{{Name: aws.String("Plan"), Value: aws.String(c.plan)}}
	for _, k := range slices.Sorted(maps.Keys(c.cfg.Dimensions)) {
		dims = append(dims, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(c.cfg.Dimensions[k])})
	}
	ts := p.End
	var data []cwtypes.MetricDatum
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, m := range p.Metrics {
		if m.Count == 0 {
			continue
		}
		data = append(data, cwtypes.MetricDatum{MetricName: aws.String(m.Key), Dimensions: dims, Timestamp: &ts,
			Unit: cwtypes.StandardUnitMilliseconds, StatisticValues: &cwtypes.StatisticSet{
				SampleCount: aws.Float64(float64(m.Count)), Sum: aws.Float64(ms(m.Mean) * float64(m.Count)),
				Minimum: aws.Float64(ms(m.Min)), Maximum: aws.Float64(ms(m.Max))}})
		data = append(data, cwtypes.MetricDatum{MetricName: aws.String(m.Key + " errors"), Dimensions: dims, Timestamp: &ts,
			Unit: cwtypes.StandardUnitCount, Value: aws.Float64(float64(m.Errors))})
	}
	for _, k := range slices.Sorted(maps.Keys(p.Counters)) {
		data = append(data, cwtypes.MetricDatum{MetricName: aws.String("counter " + k), Dimensions: dims, Timestamp: &ts,
			Unit: cwtypes.StandardUnitCount, Value: aws.Float64(float64(p.Counters[k]))})
	}
	data = append(data,
		cwtypes.MetricDatum{MetricName: aws.String("users"), Dimensions: dims, Timestamp: &ts, Unit: cwtypes.StandardUnitCount, Value: aws.Float64(float64(p.Users))},
		cwtypes.MetricDatum{MetricName: aws.String("agent utilization"), Dimensions: dims, Timestamp: &ts, Unit: cwtypes.StandardUnitNone, Value: aws.Float64(p.Utilization)})
	for batch := range slices.Chunk(data, cloudWatchBatch) {
		if _, err := c.client.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(c.cfg.Namespace), MetricData: batch}); err != nil {
			return fmt.Errorf("CloudWatch PutMetricData: %w", err)
		}
	}
	return nil
}

func (c *cloudWatchWriter) Close() error { return nil }

// Open opens the plan's writers; on an error it closes those it opened.
func Open(ctx context.Context, w plan.Writers, name string) ([]plan.Writer, error) {
	var out []plan.Writer
	fail := func(err error) ([]plan.Writer, error) {
		for _, x := range out {
			_ = x.Close()
		}
		return nil, err
	}
	if w.CSV != "" {
		x, err := newCSVWriter(w.CSV)
		if err != nil {
			return fail(err)
		}
		out = append(out, x)
	}
	if w.JSONLines != "" {
		x, err := newJSONLinesWriter(w.JSONLines)
		if err != nil {
			return fail(err)
		}
		out = append(out, x)
	}
	if w.PrometheusListen != "" {
		x, err := newPromWriter(w.PrometheusListen)
		if err != nil {
			return fail(err)
		}
		out = append(out, x)
	}
	if w.CloudWatch != nil {
		x, err := newCloudWatchWriter(ctx, *w.CloudWatch, name)
		if err != nil {
			return fail(err)
		}
		out = append(out, x)
	}
	return out, nil
}
