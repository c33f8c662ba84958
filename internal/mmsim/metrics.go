package mmsim

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are exported under Mattermost's own names where Mattermost has one, so that the
// PromQL written for a real server runs unchanged against mmsim.
type metrics struct {
	apiTime       *prometheus.HistogramVec // mattermost_api_time{handler,method,status_code}
	requests      prometheus.Counter       // mattermost_http_requests_total
	errors        prometheus.Counter       // mattermost_http_errors_total
	websockets    *prometheus.GaugeVec     // mattermost_http_websockets_total{origin_client}
	wsEvents      *prometheus.CounterVec   // mattermost_websocket_event_total{type}
	wsSlowDropped prometheus.Counter
	capacityWait  prometheus.Histogram
	postsTotal    prometheus.Counter // mattermost_post_total
	loginsTotal   prometheus.Counter // mattermost_login_total
}

// apiBuckets cover 1 ms to 10 s, finer than Prometheus' defaults at the low end where a
// healthy server lives.
var apiBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer, c *capacity, workers int) *metrics {
	m := &metrics{
		apiTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mattermost_api_time", Help: "Time to execute the API handler, in seconds, including time spent waiting for a worker of the capacity model.",
			Buckets: apiBuckets,
		}, []string{"handler", "method", "status_code"}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mattermost_http_requests_total", Help: "Total HTTP API requests."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mattermost_http_errors_total", Help: "Total HTTP API responses with a status of 400 or more."}),
		websockets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mattermost_http_websockets_total", Help: "Open WebSocket connections."}, []string{"origin_client"}),
		wsEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mattermost_websocket_event_total", Help: "WebSocket events sent, by type."}, []string{"type"}),
		wsSlowDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mmsim_websocket_slow_consumers_total", Help: "WebSocket connections closed because their send queue was full."}),
		capacityWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mmsim_capacity_wait_seconds", Help: "Time requests waited for a worker of the capacity model.", Buckets: apiBuckets}),
		postsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mattermost_post_total", Help: "Posts created."}),
		loginsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mattermost_login_total", Help: "Successful logins."}),
	}
	reg.MustRegister(m.apiTime, m.requests, m.errors, m.websockets, m.wsEvents, m.wsSlowDropped,
		m.capacityWait, m.postsTotal, m.loginsTotal,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if c != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mmsim_capacity_workers", Help: "Workers of the capacity model."},
				func() float64 { return float64(workers) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mmsim_capacity_busy_workers", Help: "Workers serving a request now."},
				func() float64 { return float64(c.busy.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mmsim_capacity_busy_seconds_total", Help: "Service time given by the workers of the capacity model; its rate divided by mmsim_capacity_workers is their utilization."},
				func() float64 { return time.Duration(c.busyNs.Load()).Seconds() }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mmsim_capacity_queue_length", Help: "Requests waiting for a worker now."},
				func() float64 { return float64(c.waiting.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mmsim_capacity_service_time_seconds", Help: "Mean service time of the capacity model."},
				func() float64 { return c.svc.Seconds() }),
		)
	}
	return m
}
