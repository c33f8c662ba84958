package usermetrics

import (
	"math"
	"testing"
	"time"
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

// TestSampleUtilization burns CPU and reports lag, and checks the sample sees both.
func TestSampleUtilization(t *testing.T) {
	m := New(nil, nil)
	m.SampleUtilization()
	m.ObserveLag(150 * time.Millisecond)
	if u := m.SampleUtilization(); u < 0.7 {
		t.Errorf("utilization with a p99 lag of 150ms = %v; want >= 0.75", u)
	}
	if u := m.SampleUtilization(); u > 0.5 {
		t.Errorf("utilization of an idle interval = %v; the lag window should have been cleared", u)
	}
	if m.LastUtilization() > 0.5 {
		t.Errorf("LastUtilization = %v", m.LastUtilization())
	}
}
