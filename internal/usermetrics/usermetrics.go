// Package usermetrics records what simulated users do: every HTTP request (Prometheus, with
// the seed-era names, and HDR histograms per route template), every action (count, result,
// latency) and every WebSocket connection. Label values are route templates and action names:
// small closed sets, never raw ids.
package usermetrics

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/mattermost"
)

// Key prefixes in the HDR recorder.
const (
	RoutePrefix  = "route "  // "route GET /channels/{channel_id}/posts"
	ActionPrefix = "action " // "action SwitchChannel"
)

// Metrics is shared by all the users of an agent. It is safe for concurrent use.
type Metrics struct {
	events   atomic.Int64 // WebSocket events users took
	droppedN atomic.Int64 // arrivals open pacing dropped

	Recorder *histogram.Recorder // everything, by route and action, since the start
	Window   *histogram.Recorder // all requests under the key "requests", for live progress (Take it)

	reqTime   *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	timeouts  *prometheus.CounterVec
	failures  *prometheus.CounterVec // by kind; every kind exists from the start
	ws        prometheus.Gauge
	starting  prometheus.GaugeFunc // reads health.starting: one count for both
	wsDropped prometheus.Counter
	wsEvents  prometheus.Counter
	canceled  prometheus.Counter
	dropped   prometheus.Counter
	actions   *prometheus.CounterVec
	lag       prometheus.Histogram
	util      *utilization
	counters  counters
	health    health

	errorGroups errorGroups // failed requests by route, status and reason, until taken
	reasons     struct {    // the reason label's values so far
		mu   sync.Mutex
		seen map[string]bool
	}
}

// New registers the metrics in reg (nil: not exported) and records histograms in rec.
func New(reg prometheus.Registerer, rec *histogram.Recorder) *Metrics {
	m := &Metrics{
		util:     newUtilization(),
		Recorder: rec,
		reqTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "loadtest_http_request_time",
			Help:    "Time of every HTTP request users make, in seconds, by route template and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"path", "method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loadtest_http_errors_total",
			Help: "HTTP responses with a status of 400 or more, and requests that got no response (status_code 0), by route, status and reason: the server's error id, its status text when it sent none, or timeout, connection refused, connection reset, connection closed, host not found, tls, transport error."},
			[]string{"path", "method", "status_code", "reason"}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loadtest_http_timeouts_total",
			Help: "HTTP requests that timed out."}, []string{"path", "method"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loadtest_http_failures_total",
			Help: "Failed HTTP requests by kind: server_error (5xx, 408, 429), no_response (refused, reset, cut short), timeout (the target's), client_error (other 4xx: the workload's). Every kind is exported from the start, at 0, so a rate over a window sees the first failures."},
			[]string{"kind"}),
		ws: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadtest_websocket_connections_total",
			Help: "Open WebSocket connections (a gauge, named as mattermost-load-test-ng names it)."}),
		wsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "loadtest_websocket_events_dropped_total",
			Help: "WebSocket events dropped because the user's event buffer was full."}),
		wsEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "loadtest_websocket_events_total",
			Help: "WebSocket events users received."}),
		canceled: prometheus.NewCounter(prometheus.CounterOpts{Name: "loadtest_http_canceled_total",
			Help: "HTTP requests abandoned because their user was stopping; not counted as errors or latencies."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "loadtest_dropped_arrivals_total",
			Help: "Actions that open pacing had due but the users, too far behind, dropped instead of sending in a burst (k6's dropped_iterations): the users could not keep the rate."}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loadtest_actions_total",
			Help: "User actions, by name and result (ok, error, or skipped when there was nothing to act on)."}, []string{"action", "result"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "loadtest_schedule_lag_seconds",
			Help:    "How late each action started against its planned time.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5}}),
	}
	m.starting = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "loadtest_users_starting",
		Help: "Users in their start-up sequence (login, first loads, WebSocket), not yet in their steady behaviour."},
		func() float64 { return float64(m.health.starting.Load()) })
	if reg != nil {
		reg.MustRegister(m.reqTime, m.errors, m.timeouts, m.failures, m.ws, m.starting, m.wsDropped, m.wsEvents, m.canceled, m.dropped, m.actions, m.lag, m.util.gauge, m.util.cpuGauge, m.util.lagGauge)
	}
	for _, k := range FailureKinds {
		m.failures.WithLabelValues(k)
	}
	if m.Recorder == nil {
		m.Recorder = histogram.NewRecorder()
	}
	m.Window = histogram.NewRecorder()
	return m
}

// ObserveRequest is a mattermost.Observer.
func (m *Metrics) ObserveRequest(r mattermost.Request) {
	if r.Canceled {
		m.canceled.Inc()
		return
	}
	m.reqTime.WithLabelValues(r.Route, r.Method).Observe(r.Duration.Seconds())
	failed := r.Err != nil
	if failed {
		m.errors.WithLabelValues(r.Route, r.Method, strconv.Itoa(r.Status), m.reason(r)).Inc()
		m.failures.WithLabelValues(FailureKind(r)).Inc()
		m.errorGroups.add(r.Method+" "+r.Route, r)
	}
	if r.Timeout {
		m.timeouts.WithLabelValues(r.Route, r.Method).Inc()
	}
	m.Recorder.Record(RoutePrefix+r.Method+" "+r.Route, r.Duration, failed)
	m.Window.Record("requests", r.Duration, failed)
}

// FailureKinds are the values of loadtest_http_failures_total's kind label.
var FailureKinds = []string{"server_error", "no_response", "timeout", "client_error"}

// FailureKind says what kind of failure a failed request was (a pure function): the
// target's (server_error, no_response, timeout) or the workload's (client_error).
func FailureKind(r mattermost.Request) string {
	switch {
	case r.Timeout:
		return "timeout"
	case r.Status == 0:
		return "no_response"
	case r.Status >= 500 || r.Status == 408 || r.Status == 429:
		return "server_error"
	}
	return "client_error"
}

// ErrSkipped is returned by an action that found nothing to act on (no post of the user's
// own to edit, say). It is counted as the result "skipped", not as an error.
var ErrSkipped = errors.New("skipped: nothing to act on")

// ObserveAction records one user action.
func (m *Metrics) ObserveAction(name string, d time.Duration, err error) {
	result := "ok"
	switch {
	case errors.Is(err, ErrSkipped):
		m.actions.WithLabelValues(name, "skipped").Inc()
		m.Recorder.Skip(ActionPrefix + name)
		return
	case err != nil:
		result = "error"
		if WorkloadFault(err) {
			m.health.actionFaults.Add(1)
			m.health.fault(err)
		}
	}
	m.health.actions.Add(1)
	m.actions.WithLabelValues(name, result).Inc()
	m.Recorder.Record(ActionPrefix+name, d, err != nil)
}

// DropArrivals counts n actions that open pacing dropped (see loadtest_dropped_arrivals_total).
func (m *Metrics) DropArrivals(n int) {
	m.dropped.Add(float64(n))
	m.droppedN.Add(int64(n))
}

// DroppedArrivals is how many actions open pacing dropped so far.
func (m *Metrics) DroppedArrivals() int64 { return m.droppedN.Load() }

// ObserveLag records how late an action started.
func (m *Metrics) ObserveLag(d time.Duration) {
	d = max(0, d)
	m.lag.Observe(d.Seconds())
	m.util.lag.Record("lag", d, false)
}

// WebSocketOptions returns options that keep the connection gauge and drop counter.
func (m *Metrics) WebSocketOptions(o mattermost.WebSocketOptions) mattermost.WebSocketOptions {
	o.OnConnect = func() { m.ws.Inc() }
	o.OnDisconnect = func() { m.ws.Dec() }
	o.OnDrop = func(mattermost.Event) { m.wsDropped.Inc() }
	return o
}

// EventReceived counts one event a user took from its WebSocket.
// Starting counts a user as starting until done is called (once; later calls do nothing).
// The coordinator waits for the count to reach 0 before it measures a probe: a ramp's
// logins are not the steady state.
func (m *Metrics) Starting() (done func()) {
	m.health.starting.Add(1)
	var once sync.Once
	return func() { once.Do(func() { m.health.starting.Add(-1) }) }
}

func (m *Metrics) EventReceived() {
	m.wsEvents.Inc()
	m.events.Add(1)
}

// EventsReceived returns how many WebSocket events users took.
func (m *Metrics) EventsReceived() int64 { return m.events.Load() }
