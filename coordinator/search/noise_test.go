package search

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestStdErr(t *testing.T) {
	se, tq, ok := StdErr([]float64{1, 2, 3, 4, 5, 6})
	// sd = sqrt(17.5/5) = 1.8708, se = sd/sqrt(6) = 0.7638; t(5 dof) = 2.571.
	if !ok || math.Abs(se-0.7638) > 1e-4 || math.Abs(tq-2.5706) > 1e-4 {
		t.Fatalf("StdErr = %v, %v, %v; want 0.7638, 2.5706, true", se, tq, ok)
	}
	// The exact quantile for any number of batches (a table of ten stopped at 1.96 beyond).
	if _, tq, _ := StdErr([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}); math.Abs(tq-2.1788) > 1e-4 {
		t.Errorf("t for 12 degrees of freedom = %v; want 2.1788", tq)
	}
	if se, _, ok := StdErr([]float64{2, 2, 2}); !ok || se != 0 {
		t.Fatalf("constant batches: %v %v", se, ok)
	}
	for _, b := range [][]float64{nil, {1, 2}, {1, math.NaN(), 3}, {1, math.Inf(1), 2}} {
		if _, _, ok := StdErr(b); ok {
			t.Fatalf("StdErr(%v) ok; want not measured", b)
		}
	}
}

func TestSubWindows(t *testing.T) {
	for _, c := range []struct {
		held, scrape time.Duration
		k            int
		sub          time.Duration
	}{
		{15 * time.Second, time.Second, 5, 3 * time.Second},
		{60 * time.Second, time.Second, 6, 10 * time.Second},
		{20 * time.Second, 500 * time.Millisecond, 6, 3333 * time.Millisecond},
		{8 * time.Second, time.Second, 0, 0}, // two 3 s sub-windows: too few
		{60 * time.Second, 15 * time.Second, 0, 0},
	} {
		k, sub := SubWindows(c.held, c.scrape)
		if k != c.k || sub != c.sub {
			t.Errorf("SubWindows(%v, %v) = %d, %v; want %d, %v", c.held, c.scrape, k, sub, c.k, c.sub)
		}
	}
}

func TestExtendHold(t *testing.T) {
	qs := []QuerySpec{{Description: "errors", Threshold: 0.05, Alert: false}, {Description: "latency", Threshold: 0.1, Alert: true}}
	s := time.Second
	for _, c := range []struct {
		values, stdErrs []float64
		held            time.Duration
		want            bool
	}{
		{[]float64{0, 0.095}, []float64{0, 0.004}, 15 * s, true},                      // 0.005 < 2.571 x 0.004
		{[]float64{0, 0.105}, []float64{0, 0.004}, 15 * s, true},                      // above, as close
		{[]float64{0, 0.080}, []float64{0, 0.004}, 15 * s, false},                     // clear pass
		{[]float64{0, 0.095}, []float64{0, 0}, 15 * s, false},                         // noise not measured
		{[]float64{0, 0.095}, []float64{0, 0.004}, 50 * s, false},                     // no room under 60 s
		{[]float64{0, 0.095}, []float64{0, 0.004}, 45*s + 200*time.Millisecond, true}, // 45 s and a little
		{[]float64{0.05, 0.01}, []float64{0.1, 0.001}, 15 * s, false},                 // a non-alert query's noise does not count
	} {
		if got := ExtendHold(qs, c.values, c.stdErrs, 2.571, c.held, 15*s, 60*s); got != c.want {
			t.Errorf("ExtendHold(%v, %v, held %v) = %v; want %v", c.values, c.stdErrs, c.held, got, c.want)
		}
	}
}

// TestDone_WithinNoise: an answer bounded by a probe that was still within noise says so. A
// fail within noise is probed twice (TestSearch_NoisyFailConfirmed), so it failed twice here.
func TestDone_WithinNoise(t *testing.T) {
	cfg := DefaultConfig(1000)
	pass := Probe{Users: 100, Verdict: Pass, Margin: -0.2}
	fail := Probe{Users: 102, Verdict: Fail, Margin: 0.2}
	for _, c := range []struct {
		noisyPass, noisyFail, want bool
	}{{false, false, false}, {true, false, true}, {false, true, true}} {
		p, f := pass, fail
		p.WithinNoise, f.WithinNoise = c.noisyPass, c.noisyFail
		h := []Probe{p, f, p}
		if c.noisyFail {
			h = append(h, f)
		}
		d := Next(cfg, h)
		if !d.Done || d.Result.SupportedUsers != 100 || d.Result.WithinNoise != c.want ||
			strings.Contains(d.Reason, "within noise") != c.want {
			t.Errorf("pass within noise %v, fail within noise %v: %+v; want done at 100, WithinNoise %v", c.noisyPass, c.noisyFail, d, c.want)
		}
	}
}

// TestNoiseFloor: the pooled noise comes from valid, long enough probes of similar size, as a
// median of relative noise x √hold, and raises a short hold's understated standard error so
// that a burst within the pooled noise holds on instead of deciding the probe.
func TestNoiseFloor(t *testing.T) {
	h := []Probe{
		{Users: 200, Verdict: Fail, Values: []float64{0.4}, StdErrs: []float64{0.04}, HoldSec: 25},  // 0.1 x 5 = 0.5
		{Users: 160, Verdict: Pass, Values: []float64{0.2}, StdErrs: []float64{0.02}, HoldSec: 36},  // 0.1 x 6 = 0.6
		{Users: 150, Verdict: Pass, Values: []float64{0.25}, StdErrs: []float64{0.05}, HoldSec: 49}, // 0.2 x 7 = 1.4
		{Users: 170, Verdict: Invalid, Values: []float64{0.3}, StdErrs: []float64{0.3}, HoldSec: 40},
		{Users: 170, Verdict: Pass, Values: []float64{0.3}, StdErrs: []float64{0.3}, HoldSec: 10},  // too short
		{Users: 50, Verdict: Pass, Values: []float64{0.03}, StdErrs: []float64{0.03}, HoldSec: 40}, // too small
	}
	floor := NoiseFloor(h, 1, 170, 20*time.Second)
	if math.Abs(floor[0]-0.6) > 1e-9 {
		t.Fatalf("floor %v; want the median 0.6 of the three probes that count", floor)
	}
	if f := NoiseFloor(h[:1], 1, 170, 20*time.Second); f[0] != 0 {
		t.Errorf("floor from one probe = %v; want 0 (not enough to pool)", f)
	}
	se := FloorStdErrs([]float64{0.02}, []float64{0.43}, floor, 9*time.Second)
	if math.Abs(se[0]-0.6*0.43/3) > 1e-9 {
		t.Errorf("floored se %v; want 0.6 x 0.43 / √9 = 0.086", se)
	}
	if se := FloorStdErrs([]float64{0.2}, []float64{0.43}, floor, 9*time.Second); se[0] != 0.2 {
		t.Errorf("a larger measured se was lowered to %v", se)
	}
	qs := []QuerySpec{{Description: "utilization", Threshold: 0.3, Alert: true}}
	if ExtendHold(qs, []float64{0.43}, []float64{0.02}, 4.303, 10*time.Second, 10*time.Second, 80*time.Second) {
		t.Error("the understated se alone held on; the test's premise is wrong")
	}
	if !ExtendHold(qs, []float64{0.43}, se, 4.303, 10*time.Second, 10*time.Second, 80*time.Second) {
		t.Error("with the pooled noise, 0.43 against 0.3 after 10 s did not hold on")
	}
}
