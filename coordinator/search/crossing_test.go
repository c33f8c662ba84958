package search

import (
	"math"
	"strings"
	"testing"
)

// near returns a probe at n users whose margin is m, measured with standard error se over a
// 40 s hold ending at at.
func near(n int, m, se, at float64) Probe {
	v := Pass
	if m >= 0 {
		v = Fail
	}
	return Probe{Users: n, Verdict: v, Margin: m, MarginErr: se, HoldSec: 40, At: at, WithinNoise: math.Abs(m) < 2.571*se}
}

// TestCrossing_Line: probes scattered about the line margin = n/2000 - 1 put the crossing
// at 2000, with an interval that covers it and shrinks as probes are added.
func TestCrossing_Line(t *testing.T) {
	jitter := []float64{0.012, -0.01, 0.004, -0.006, 0.009, -0.003, -0.008, 0.002}
	var h []Probe
	for i, n := range []int{1900, 2100, 1950, 2050, 1980, 2020, 2000, 1990} {
		h = append(h, near(n, float64(n)/2000-1+jitter[i], 0.01, float64(40*(i+1))))
	}
	var widths []float64
	for k := 4; k <= len(h); k += 2 {
		e, ok := Crossing(h[:k], 1900, 2100)
		if !ok || math.Abs(e.Users-2000) > e.Err || e.Err <= 0 || e.Probes != k || e.Drift {
			t.Fatalf("%d probes: %+v, %v; want about 2000 inside its interval, no drift", k, e, ok)
		}
		widths = append(widths, e.Err)
	}
	if widths[len(widths)-1] >= widths[0] {
		t.Errorf("interval half-widths %v; want them to shrink with more probes", widths)
	}
	if e, _ := Crossing(h, 1900, 2100); !e.Within(0.03) || e.Within(0.001) {
		t.Errorf("%+v: want within 3%% and not within 0.1%%", e)
	}
}

// TestCrossing_Drift: the same users measure better as time passes (the capacity rises
// from 1900 to 2100 over the probes, as when simulative users' demand falls). The time
// term is significant, and the crossing is read at the last probe's time.
func TestCrossing_Drift(t *testing.T) {
	capacity := func(at float64) float64 { return 1900 + 200*at/400 }
	var h []Probe
	users := []int{1950, 2000, 2050, 1950, 2000, 2050, 1950, 2000, 2050, 2000}
	for i, n := range users {
		at := float64(40 * (i + 1))
		h = append(h, near(n, float64(n)/capacity(at)-1+0.002*float64(i%3-1), 0.005, at))
	}
	e, ok := Crossing(h, 1950, 2050)
	if end := capacity(400); !ok || !e.Drift || math.Abs(e.Users-end) > 0.01*end {
		t.Fatalf("%+v, %v; want the crossing at the end, about %.0f, with drift", e, ok, end)
	}
}

// TestCrossing_Refuses: too few probes, one user count, a margin that improves with users,
// or a crossing far outside the probes give no estimate.
func TestCrossing_Refuses(t *testing.T) {
	for name, h := range map[string][]Probe{
		"two probes": {near(1900, -0.05, 0.01, 40), near(2100, 0.05, 0.01, 80)},
		"one count":  {near(2000, -0.01, 0.01, 40), near(2000, 0.01, 0.01, 80), near(2000, 0, 0.01, 120)},
		"falling":    {near(1900, 0.05, 0.01, 40), near(2000, 0, 0.01, 80), near(2100, -0.05, 0.01, 120)},
		"far":        {near(1900, -0.5, 0.01, 40), near(2000, -0.49, 0.01, 80), near(2100, -0.48, 0.01, 120)},
		"unmeasured": {near(1900, -0.05, 0, 40), near(2000, 0, 0, 80), near(2100, 0.05, 0, 120)},
	} {
		if e, ok := Crossing(h, 1900, 2100); ok {
			t.Errorf("%s: %+v; want no estimate", name, e)
		}
	}
}

// TestPooled: two probes at the same users that agree within noise are one measurement;
// a clear pass then a clear fail there are not (the target moved), and the latest stands.
func TestPooled(t *testing.T) {
	h := Pooled([]Probe{near(2000, 0.01, 0.01, 40), near(1900, -0.1, 0.01, 80), near(2000, -0.004, 0.01, 120)}, 120)
	if p := h[2]; p.Verdict != Fail || math.Abs(p.Margin-0.003) > 1e-9 || !p.WithinNoise || math.Abs(p.MarginErr-0.01/math.Sqrt2) > 1e-9 {
		t.Errorf("pooled %+v; want a fail at margin 0.003 with error 0.0071, within noise", p)
	}
	if h[0].Verdict != Fail || h[1].Margin != -0.1 {
		t.Errorf("earlier probes changed: %+v", h[:2])
	}
	h = Pooled([]Probe{near(2000, -0.2, 0.01, 40), near(2000, 0.2, 0.01, 80)}, 0)
	if p := h[1]; p.Verdict != Fail || p.Margin != 0.2 {
		t.Errorf("a clear pass then a clear fail: %+v; want the fail to stand", p)
	}
}

// TestNext_PooledFail: the search of TestSearch_NoisyFailConfirmed, with the noise
// measured. The fail at 173 within noise is probed again and passes within noise: pooled,
// 173 still fails, so the search does not climb above it; it ends on the crossing fitted to
// the probes near the answer, and says so.
func TestNext_PooledFail(t *testing.T) {
	cfg := DefaultConfig(1000)
	cfg.Precision = 0.03
	h := []Probe{
		near(50, -0.8, 0.02, 10), near(100, -0.6, 0.02, 20), near(200, 0.15, 0.02, 40), near(165, -0.045, 0.02, 80),
		near(170, -0.01, 0.02, 120), near(173, 0.02, 0.02, 160), near(173, -0.005, 0.02, 200),
	}
	d := Next(cfg, h)
	if d.Phase == "refine" && d.Users > 173 {
		t.Fatalf("after 173 failed then passed within noise: %+v; want the pooled fail to hold the bracket at 173", d)
	}
	for range 4 {
		if d.Done {
			break
		}
		h = append(h, near(d.Users, float64(d.Users)/171-1, 0.02, h[len(h)-1].At+40))
		d = Next(cfg, h)
	}
	r := d.Result
	if !d.Done || !r.Fitted || r.Estimate == nil || r.SupportedUsers < 165 || r.SupportedUsers > 176 || !strings.Contains(d.Reason, "crossing fitted") {
		t.Fatalf("%+v (%s): want done on a fitted crossing near 171", r, d.Reason)
	}
}

// TestNext_RefinesAtTheCrossing: within noise, the bracket's ends say little about where
// between them the threshold lies; the next probe goes where the probes near the answer
// put it (about 2100 here), and the reason says so. With clear verdicts the rules that
// read the bracket's ends still choose.
func TestNext_RefinesAtTheCrossing(t *testing.T) {
	cfg := DefaultConfig(6000)
	cfg.Precision, cfg.StaleSec = 0.03, 120
	line := func(n int) float64 { return float64(n)/2100 - 1 } // the threshold at 2100
	jitter := []float64{0.02, -0.03, 0.025, -0.02}
	h := []Probe{near(1600, -0.24, 0.01, 100), near(3200, 0.5, 0.01, 140)}
	for i, n := range []int{1900, 2400, 2000, 2250} {
		h = append(h, near(n, line(n)+jitter[i], 0.05, float64(180+40*i)))
	}
	d := Next(cfg, h)
	if d.Done || d.Phase != "refine" || !strings.Contains(d.Reason, "crossing fitted") || d.Users < 2060 || d.Users > 2140 {
		t.Fatalf("%+v; want a probe near 2100, where the fitted crossing is", d)
	}
	for i := range h {
		h[i].WithinNoise = false
	}
	if d := Next(cfg, h); strings.Contains(d.Reason, "crossing fitted") {
		t.Fatalf("clear verdicts: %+v; want the bracket's own rules", d)
	}
}

// TestNext_FittedWithinMaxUsers: a fitted crossing above the most users the search may
// probe (its fails there within noise) answers no more than MaxActiveUsers.
func TestNext_FittedWithinMaxUsers(t *testing.T) {
	cfg := DefaultConfig(2000)
	cfg.Precision = 0.03
	line := func(n int) float64 { return float64(n)/2100 - 1 } // the threshold at 2100
	h := []Probe{near(1000, -0.5, 0.01, 20)}
	for i, n := range []int{1900, 1950, 1980, 1990} {
		h = append(h, near(n, line(n), 0.03, float64(60+40*i)))
	}
	h = append(h, near(2000, 0.001, 0.03, 260), near(2000, 0.002, 0.03, 300), near(1990, line(1990), 0.03, 340))
	d := Next(cfg, h)
	if !d.Done || d.Result.Estimate == nil || d.Result.Estimate.Users <= 2000 || !d.Result.Fitted || d.Result.SupportedUsers != 2000 {
		t.Fatalf("%+v (%s); want done, the crossing above 2000 answered as 2000", d.Result, d.Reason)
	}
}

// TestClearBounds_Superseded: a clear verdict contradicted by a later one (the demand moved
// in between: the users' request rate fell 15 % over one simulative demo's search) no
// longer bounds the answer; verdicts within noise never do.
func TestClearBounds_Superseded(t *testing.T) {
	pass := func(n int) Probe { return Probe{Users: n, Verdict: Pass} }
	fail := func(n int) Probe { return Probe{Users: n, Verdict: Fail} }
	noisy := Probe{Users: 2300, Verdict: Fail, WithinNoise: true}
	for _, c := range []struct {
		name   string
		h      []Probe
		lo, hi int
	}{
		{"consistent", []Probe{pass(1600), fail(3200), fail(2463), pass(1910), noisy}, 1910, 2463},
		{"a fail passed later", []Probe{pass(1600), fail(3200), fail(2142), pass(2112), pass(2604), fail(2888)}, 2604, 2888},
		{"a pass failed later", []Probe{pass(2000), fail(3000), fail(1800)}, 0, 1800},
		{"none", []Probe{noisy}, 0, math.MaxInt},
	} {
		if lo, hi := clearBounds(c.h); lo != c.lo || hi != c.hi {
			t.Errorf("%s: clearBounds = %d, %d; want %d, %d", c.name, lo, hi, c.lo, c.hi)
		}
	}
}
