package search

import (
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Near the threshold a probe's verdict is a coin toss: bursty users make a 40 s mean vary by
// a few per cent, and a pass and a fail a few users apart say little about where between
// them the threshold lies. Every probe near the answer measured the margin, though, and the
// margin is close to a line in users there. Crossing fits that line to all of them, each
// weighted by its hold (NoiseScale), and reads where it crosses zero: an estimate whose
// error falls as the square root of the time held near the answer, where the bracket's
// verdicts stop improving once they are within noise.

// Estimate is where the probes near the answer put the threshold's crossing.
type Estimate struct {
	Users float64 `json:"users"` // the fitted crossing
	// Err is the half-width of its 95 % interval, in users.
	Err    float64 `json:"err"`
	Probes int     `json:"probes"` // the probes fitted
	// Drift says the margin moved with time as well as with users, significantly: the fit
	// has a time term and the crossing is read at the last probe's time (the target as the
	// search ended).
	Drift bool `json:"drift,omitempty"`
}

// Within says the interval is within precision x the crossing on each side.
func (e Estimate) Within(precision float64) bool { return e.Err <= precision*e.Users }

// FitWindow is how far around the bracket [lo, hi) probes join the fit: from
// (1 - FitWindow) x lo to (1 + FitWindow) x hi, where a margin is close to a line.
const FitWindow = 0.15

// Crossing fits margin = a + b·users (+ c·t when the time term is significant) to the
// valid probes near the bracket [lo, hi) that measured their noise, by least squares with
// each probe weighted by its hold, and returns where the margin crosses zero (a pure
// function). The probes' errors set the interval (NoiseScale); when the points scatter
// more than those errors say, it widens by the scatter. ok is false with fewer than three
// such probes, fewer than two user counts, a slope that is not positive (more users must
// mean a worse margin), or a crossing outside the probes' range (an extrapolation, not a
// measurement).
func Crossing(h []Probe, lo, hi int) (e Estimate, ok bool) {
	if lo <= 0 || hi <= lo {
		return Estimate{}, false
	}
	from, to := (1-FitWindow)*float64(lo), (1+FitWindow)*float64(hi)
	var use []Probe
	counts := map[int]bool{}
	for _, p := range h {
		if poolable(p) && float64(p.Users) >= from && float64(p.Users) <= to {
			use, counts[p.Users] = append(use, p), true
		}
	}
	if len(use) < 3 || len(counts) < 2 {
		return Estimate{}, false
	}
	f, ok := fitLine(use, true)
	if !ok || !f.significant(2) {
		if f, ok = fitLine(use, false); !ok {
			return Estimate{}, false
		}
	}
	e = f.estimate(len(use))
	return e, e.Users >= from && e.Users <= to
}

// line is a fitted margin = a + b·(users - x0) (+ c·(t - t0)).
type line struct {
	coef, se []float64 // a, b (, c)
	cov      *mat.SymDense
	x0, tEnd float64 // users and time (from t0) the intercept is read at: the last probe's
	t95      float64
}

// fitLine fits the line, with a time term when timed (six probes at least), read at the
// last probe's time.
func fitLine(use []Probe, timed bool) (line, bool) {
	k := 2
	if timed {
		k = 3
		if len(use) < 6 {
			return line{}, false
		}
	}
	scale := NoiseScale(use)
	var x0, t0, sw, last float64
	for _, p := range use {
		w := hold(p)
		x0, t0, sw, last = x0+w*float64(p.Users), t0+w*p.At, sw+w, math.Max(last, p.At)
	}
	x0, t0 = x0/sw, t0/sw
	x := mat.NewDense(len(use), k, nil)
	y := mat.NewVecDense(len(use), nil)
	for i, p := range use {
		r := math.Sqrt(hold(p)) / scale
		x.Set(i, 0, r)
		x.Set(i, 1, r*(float64(p.Users)-x0))
		if timed {
			x.Set(i, 2, r*(p.At-t0))
		}
		y.SetVec(i, r*p.Margin)
	}
	coef, inv, rss, ok := lsq(x, y)
	dof := len(use) - k
	if !ok || dof < 1 {
		return line{}, false
	}
	// The probes' errors are estimates from a few batches each; when the points scatter
	// more than they say, trust the scatter.
	inv.ScaleSym(math.Max(1, rss/float64(dof)), inv)
	l := line{coef: coef, cov: inv, x0: x0, tEnd: last - t0, t95: distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(dof)}.Quantile(0.975)}
	for i := range k {
		l.se = append(l.se, math.Sqrt(inv.At(i, i)))
	}
	return l, coef[1] > 0
}

// significant says the time term is more than z standard errors from 0.
func (l line) significant(z float64) bool {
	return len(l.coef) == 3 && math.Abs(l.coef[2]) > z*l.se[2]
}

// estimate reads the crossing, with its 95 % interval by the delta method.
func (l line) estimate(n int) Estimate {
	a, b := l.coef[0], l.coef[1]
	timed := len(l.coef) == 3
	g := []float64{1, 0} // the gradient of a + b·d (+ c·tEnd) in (a, b (, c))
	if timed {
		a += l.coef[2] * l.tEnd
		g = append(g, l.tEnd)
	}
	d := -a / b // the crossing's offset from x0
	g[1] = d
	v := 0.0
	for i := range g {
		for j := range g {
			v += g[i] * g[j] * l.cov.At(i, j)
		}
	}
	return Estimate{Users: l.x0 + d, Err: l.t95 * math.Sqrt(v) / b, Probes: n, Drift: timed}
}
