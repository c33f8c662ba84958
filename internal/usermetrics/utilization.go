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

// MaxOverShare is the share of an agent's seconds that may be above SaturatedAbove before
// its results are suspect: one bad second in twenty (a burst of events, a collection) does
// not decide a probe, a saturated agent, above the line most of the time, still does.
const MaxOverShare = 0.05

// Sample is how busy an agent was over a second, as its two parts: CPU time as a share of the
// cores Go may use, and the p99 schedule lag as a share of LagBudget (at most 1 each).
type Sample struct {
	CPU float64 `json:"cpu"`
	Lag float64 `json:"lag"`
}

// Value is the utilization, in [0, 1]: the larger part.
func (s Sample) Value() float64 { return max(s.CPU, s.Lag) }

// NewSample is the Sample of cpu time used over wall with procs cores, and a p99 schedule
// lag. A pure function.
func NewSample(cpu, wall time.Duration, procs int, lagP99 time.Duration) Sample {
	u := 0.0
	if wall > 0 && procs > 0 {
		u = cpu.Seconds() / (wall.Seconds() * float64(procs))
	}
	return Sample{CPU: min(1, max(0, u)), Lag: min(1, lagP99.Seconds()/LagBudget.Seconds())}
}

// Utilization is how busy an agent is, in [0, 1]: the larger of its CPU time as a share of the
// cores Go may use, and its p99 schedule lag as a share of LagBudget. A pure function.
func Utilization(cpu, wall time.Duration, procs int, lagP99 time.Duration) float64 {
	return NewSample(cpu, wall, procs, lagP99).Value()
}

// OverShare is the share of the samples above limit; 0 for none.
func OverShare(samples []float64, limit float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	n := 0
	for _, u := range samples {
		if u > limit {
			n++
		}
	}
	return float64(n) / float64(len(samples))
}

// utilization samples the process's CPU time and the users' schedule lag.
type utilization struct {
	gauge, cpuGauge, lagGauge prometheus.Gauge
	lag                       *histogram.Recorder // schedule lag since the last sample, under "lag"

	mu       sync.Mutex
	lastCPU  time.Duration // guarded by mu
	lastWall time.Time     // guarded by mu
	value    Sample        // guarded by mu
}

func newUtilization() *utilization {
	return &utilization{
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadtest_agent_utilization",
			Help: "How busy the agent is, 0..1: the larger of its CPU share and its p99 schedule lag over 200 ms. Above 0.8, results may reflect the agent rather than the target."}),
		cpuGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadtest_agent_cpu_share",
			Help: "The agent's CPU time over the last second as a share of the cores Go may use, 0..1: one part of loadtest_agent_utilization."}),
		lagGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadtest_agent_lag_share",
			Help: "The users' p99 schedule lag over the last second as a share of 200 ms, 0..1: the other part of loadtest_agent_utilization."}),
		lag:      histogram.NewRecorder(),
		lastCPU:  processCPU(),
		lastWall: time.Now(),
	}
}

// SampleUtilization computes the utilization since the previous sample, exports it and
// returns it. Call it periodically (every second or so).
func (m *Metrics) SampleUtilization() Sample {
	return m.sampleUtilization(processCPU(), time.Now())
}

// sampleUtilization is SampleUtilization at a given process CPU time and wall time.
func (m *Metrics) sampleUtilization(cpu time.Duration, now time.Time) Sample {
	u := m.util
	lag := time.Duration(0)
	if s, ok := u.lag.Take()["lag"]; ok && s.Hist.TotalCount() > 0 {
		lag = time.Duration(s.Hist.ValueAtQuantile(99)) * time.Microsecond
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.value = NewSample(cpu-u.lastCPU, now.Sub(u.lastWall), runtime.GOMAXPROCS(0), lag)
	u.lastCPU, u.lastWall = cpu, now
	u.gauge.Set(u.value.Value())
	u.cpuGauge.Set(u.value.CPU)
	u.lagGauge.Set(u.value.Lag)
	return u.value
}

// LastUtilization returns the last sample.
func (m *Metrics) LastUtilization() Sample {
	m.util.mu.Lock()
	defer m.util.mu.Unlock()
	return m.util.value
}
