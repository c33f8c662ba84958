package search

import (
	"math"
	"testing"
)

// TestFitRate: an exact plane λ = 0.36 + 0.001·N − 0.0001·t is recovered from probes with
// their times, invalid probes and probes without throughput are left out, and the fit is
// refused without spread in users or time, or with fewer than four probes.
func TestFitRate(t *testing.T) {
	rate := func(n int, at float64) float64 { return 0.36 + 0.001*float64(n) - 0.0001*at }
	var h []Probe
	for i, n := range []int{220, 180, 200, 190, 205} {
		at := float64(i+1) * 100
		h = append(h, Probe{Users: n, Verdict: Pass, Throughput: float64(n) * rate(n, at), HoldSec: 40, At: at})
	}
	h = append(h, Probe{Users: 199, Verdict: Invalid, Throughput: 900, HoldSec: 40, At: 600}, Probe{Users: 140, Verdict: Fail, At: 650})
	f, ok := FitRate(h)
	if !ok || math.Abs(f.A-0.36) > 1e-9 || math.Abs(f.B-0.001) > 1e-12 || math.Abs(f.C+0.0001) > 1e-12 || f.Probes != 5 {
		t.Fatalf("FitRate = %+v, %v; want A 0.36, B 0.001, C -0.0001 over 5 probes", f, ok)
	}
	if want := 60 * -0.0001 / f.Mean; math.Abs(f.DriftPerMin()-want) > 1e-12 || f.DriftPerMin() > -0.01 {
		t.Fatalf("DriftPerMin = %v; want %v", f.DriftPerMin(), want)
	}
	oneCount := append([]Probe(nil), h[:5]...)
	for i := range oneCount {
		oneCount[i].Users, oneCount[i].Throughput = 200, 200*rate(200, oneCount[i].At)
	}
	untimed := append([]Probe(nil), h[:5]...)
	for i := range untimed {
		untimed[i].At = 0
	}
	for name, probes := range map[string][]Probe{"one user count": oneCount, "no times": untimed, "three probes": h[:3]} {
		if f, ok := FitRate(probes); ok {
			t.Errorf("%s: FitRate = %+v; want refused", name, f)
		}
	}
	if got := NearAnswer(h, 200); len(got) != 6 { // 140 is more than 25 % below 200
		t.Errorf("NearAnswer(200) kept %d probes; want 6", len(got))
	}
}
