package usermetrics

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestUtilization(t *testing.T) {
	for _, tc := range []struct {
		cpu, wall time.Duration
		procs     int
		lag       time.Duration
		want      float64
	}{
		{time.Second, 2 * time.Second, 2, 0, 0.25},                 // a quarter of two cores
		{4 * time.Second, 2 * time.Second, 2, 0, 1},                // capped
		{0, time.Second, 2, 100 * time.Millisecond, 0.5},           // lag: half the budget
		{time.Second, time.Second, 2, 180 * time.Millisecond, 0.9}, // the larger one wins
		{0, 0, 2, 0, 0},
	} {
		if got := Utilization(tc.cpu, tc.wall, tc.procs, tc.lag); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Utilization(%v, %v, %d, %v) = %v; want %v", tc.cpu, tc.wall, tc.procs, tc.lag, got, tc.want)
		}
	}
}

// TestSampleUtilization feeds the sampler CPU times and lags, and checks that each sample
// covers only its own interval.
func TestSampleUtilization(t *testing.T) {
	m := New(nil, nil)
	t0 := time.Now()
	m.util.lastCPU, m.util.lastWall = 0, t0
	procs := float64(runtime.GOMAXPROCS(0))
	// One second in which the process used a tenth of its cores and users started 150ms late.
	m.ObserveLag(150 * time.Millisecond)
	cpu := time.Duration(0.1 * procs * float64(time.Second))
	if u := m.sampleUtilization(cpu, t0.Add(time.Second)); math.Abs(u.Value()-0.75) > 0.01 || math.Abs(u.CPU-0.1) > 0.01 || math.Abs(u.Lag-0.75) > 0.01 {
		t.Errorf("utilization with a p99 lag of 150ms = %+v (%v); want 0.75 (lag over CPU), with CPU 0.1 and lag 0.75 apart", u, u.Value())
	}
	// The next second: no lag recorded, 40% of the cores.
	cpu2 := cpu + time.Duration(0.4*procs*float64(time.Second))
	if u := m.sampleUtilization(cpu2, t0.Add(2*time.Second)); math.Abs(u.Value()-0.4) > 0.01 || u.Lag != 0 {
		t.Errorf("utilization of the next interval = %+v; want 0.4 and no lag (the lag window must have been cleared)", u)
	}
	if got := m.LastUtilization(); math.Abs(got.Value()-0.4) > 0.01 {
		t.Errorf("LastUtilization = %+v; want 0.4", got)
	}
	if got := OverShare([]float64{0.5, 0.9, 0.81, 0.8}, 0.8); got != 0.5 {
		t.Errorf("OverShare = %v; want 0.5 (0.8 itself is not over)", got)
	}
	if got := OverShare(nil, 0.8); got != 0 {
		t.Errorf("OverShare of no samples = %v; want 0", got)
	}
}

// TestStarting: loadtest_users_starting counts users between Starting and done, and a done
// called twice counts once.
func TestStarting(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil)
	a, b := m.Starting(), m.Starting()
	if got := testutil.ToFloat64(m.starting); got != 2 {
		t.Fatalf("loadtest_users_starting = %v; want 2", got)
	}
	a()
	a()
	if got := testutil.ToFloat64(m.starting); got != 1 {
		t.Fatalf("after one user started (done twice): %v; want 1", got)
	}
	b()
	if n, err := testutil.GatherAndCount(reg, "loadtest_users_starting"); err != nil || n != 1 || testutil.ToFloat64(m.starting) != 0 {
		t.Fatalf("exported %d series (err %v), value %v; want 1 series at 0", n, err, testutil.ToFloat64(m.starting))
	}
}
