package usermetrics

import (
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/histogram"
)

// LagBudget is the p99 schedule lag that counts as full utilization: users whose actions
// start this late are being held back by the agent, not by the target.
const LagBudget = 200 * time.Millisecond

// SaturatedAbove is the utilization above which an agent's results are suspect (Stressgrid's
// rule: keep generators below 0.8).
const SaturatedAbove = 0.8

// Utilization is how busy an agent is, in [0, 1]: the larger of its CPU time as a share of the
// cores Go may use, and its p99 schedule lag as a share of LagBudget. A pure function.
func Utilization(cpu, wall time.Duration, procs int, lagP99 time.Duration) float64 {
	u := 0.0
	if wall > 0 && procs > 0 {
		u = cpu.Seconds() / (wall.Seconds() * float64(procs))
	}
	return min(1, max(u, lagP99.Seconds()/LagBudget.Seconds()))
}

// utilization samples the process's CPU time and the users' schedule lag.
type utilization struct {
	gauge prometheus.Gauge
	lag   *histogram.Recorder // schedule lag since the last sample, under "lag"

	mu       sync.Mutex
	lastCPU  time.Duration // guarded by mu
	lastWall time.Time     // guarded by mu
	value    float64       // guarded by mu
}

func newUtilization() *utilization {
	return &utilization{
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadtest_agent_utilization",
			Help: "How busy the agent is, 0..1: the larger of its CPU share and its p99 schedule lag over 200 ms. Above 0.8, results may reflect the agent rather than the target."}),
		lag:      histogram.NewRecorder(),
		lastCPU:  processCPU(),
		lastWall: time.Now(),
	}
}

// SampleUtilization computes the utilization since the previous sample, exports it and
// returns it. Call it periodically (every second or so).
func (m *Metrics) SampleUtilization() float64 {
	return m.sampleUtilization(processCPU(), time.Now())
}

// sampleUtilization is SampleUtilization at a given process CPU time and wall time.
func (m *Metrics) sampleUtilization(cpu time.Duration, now time.Time) float64 {
	u := m.util
	lag := time.Duration(0)
	if s, ok := u.lag.Take()["lag"]; ok && s.Hist.TotalCount() > 0 {
		lag = time.Duration(s.Hist.ValueAtQuantile(99)) * time.Microsecond
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.value = Utilization(cpu-u.lastCPU, now.Sub(u.lastWall), runtime.GOMAXPROCS(0), lag)
	u.lastCPU, u.lastWall = cpu, now
	u.gauge.Set(u.value)
	return u.value
}

// LastUtilization returns the value of the last sample.
func (m *Metrics) LastUtilization() float64 {
	m.util.mu.Lock()
	defer m.util.mu.Unlock()
	return m.util.value
}
