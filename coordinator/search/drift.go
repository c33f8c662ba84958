package search

import (
	"cmp"
	"math"

	"gonum.org/v1/gonum/mat"
)

// RateFit is each user's request rate over a search's probes as a plane in users and time:
// λ(N, t) = A + B·N + C·t, with t in seconds from the search's start (Probe.At). Users
// whose demand is steady have C ≈ 0; simulative users' demand falls for their first minutes
// while their stores fill.
type RateFit struct {
	A, B, C float64
	Probes  int     // the probes fitted
	Mean    float64 // their hold-weighted mean rate per user
}

// FitRate fits a RateFit by hold-weighted least squares to the valid probes that measured
// throughput and carry their time (a pure function). ok is false with fewer than four of
// them, or without spread in users or in time.
func FitRate(h []Probe) (f RateFit, ok bool) {
	var use []Probe
	for _, p := range h {
		if p.Verdict != Invalid && p.Throughput > 0 && p.Users > 0 && p.At > 0 {
			use = append(use, p)
		}
	}
	if len(use) < 4 {
		return RateFit{}, false
	}
	x := mat.NewDense(len(use), 3, nil)
	y := mat.NewVecDense(len(use), nil)
	var hold float64
	for i, p := range use {
		w, rate := cmp.Or(p.HoldSec, 1), p.Throughput/float64(p.Users)
		hold, f.Mean = hold+w, f.Mean+w*rate
		sw := math.Sqrt(w)
		x.SetRow(i, []float64{sw, sw * float64(p.Users), sw * p.At})
		y.SetVec(i, sw*rate)
	}
	coef, _, _, ok := lsq(x, y)
	if !ok {
		return RateFit{}, false
	}
	f.A, f.B, f.C, f.Probes, f.Mean = coef[0], coef[1], coef[2], len(use), f.Mean/hold
	return f, true
}

// lsq solves x·coef ≈ y by least squares through QR (a pure function), and returns the
// coefficients, (xᵀx)⁻¹ (their covariance, up to the residuals' variance) and the residual
// sum of squares. ok is false when a column of x has no spread of its own (one user count,
// one time): R is then singular.
func lsq(x *mat.Dense, y *mat.VecDense) (coef []float64, inv *mat.SymDense, rss float64, ok bool) {
	m, k := x.Dims()
	var qr mat.QR
	qr.Factorize(x)
	var r mat.Dense
	qr.RTo(&r)
	tri := mat.NewTriDense(k, mat.Upper, nil)
	for i := range k {
		if math.Abs(r.At(i, i)) < 1e-9*math.Abs(r.At(0, 0)) {
			return nil, nil, 0, false
		}
		for j := i; j < k; j++ {
			tri.SetTri(i, j, r.At(i, j))
		}
	}
	var c mat.VecDense
	if err := qr.SolveVecTo(&c, false, y); err != nil {
		return nil, nil, 0, false
	}
	var ri mat.TriDense
	if err := ri.InverseTri(tri); err != nil {
		return nil, nil, 0, false
	}
	inv = mat.NewSymDense(k, nil)
	inv.SymOuterK(1, &ri) // (xᵀx)⁻¹ = R⁻¹R⁻ᵀ
	var fit mat.VecDense
	fit.MulVec(x, &c)
	for i := range m {
		d := y.AtVec(i) - fit.AtVec(i)
		rss += d * d
	}
	return c.RawVector().Data, inv, rss, true
}

// DriftPerMin is how much each user's rate moved a minute, relative to the mean rate.
func (f RateFit) DriftPerMin() float64 { return 60 * f.C / f.Mean }

// NearAnswer returns the probes within a quarter of n users: where the rate's dependence
// on users is close to a line.
func NearAnswer(h []Probe, n int) []Probe {
	var out []Probe
	for _, p := range h {
		if math.Abs(float64(p.Users-n)) <= 0.25*float64(n) {
			out = append(out, p)
		}
	}
	return out
}
