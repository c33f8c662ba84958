package search

import (
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// A probe's value is a mean over its hold, and bursty users make that mean noisy: the same
// users held twice can give values on both sides of a threshold. The search therefore measures
// the noise of every alert query by batch means (the query over NoiseBatches equal consecutive
// sub-windows of the hold) and, while a value is closer to its threshold than the noise allows
// a verdict to be trusted, holds longer (up to MaxHoldSec) before judging.

// NoiseBatches is how many sub-windows a hold is split into to measure its noise.
const NoiseBatches = 6

// StdErr returns the standard error of a mean from its batch means, and the Student-t factor
// for a two-sided 95 % interval; ok is false with fewer than 3 batches or a non-finite one.
func StdErr(batches []float64) (se, t float64, ok bool) {
	k := len(batches)
	if k < 3 {
		return 0, 0, false
	}
	mean := 0.0
	for _, b := range batches {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return 0, 0, false
		}
		mean += b
	}
	mean /= float64(k)
	ss := 0.0
	for _, b := range batches {
		ss += (b - mean) * (b - mean)
	}
	t = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(k - 1)}.Quantile(0.975) // two-sided 95 %
	return math.Sqrt(ss / float64(k-1) / float64(k)), t, true
}

// SubWindows splits a hold of length held into the sub-windows its noise is measured over:
// NoiseBatches of them, fewer when that would make one shorter than three scrape intervals
// (or two seconds), none when fewer than three fit. It returns their length.
func SubWindows(held, scrape time.Duration) (int, time.Duration) {
	shortest := max(3*scrape, 2*time.Second)
	k := min(NoiseBatches, int(held/shortest))
	if k < 3 {
		return 0, 0
	}
	return k, (held / time.Duration(k)).Truncate(time.Millisecond)
}

// WithinNoise returns the first alert query whose value is closer to its threshold than
// t x its standard error, that is, whose verdict a longer hold could reverse; -1 if none.
// A standard error of 0 (not measured) never counts as noise.
func WithinNoise(qs []QuerySpec, values, stdErrs []float64, t float64) int {
	for i, q := range qs {
		if !q.Alert || i >= len(values) || i >= len(stdErrs) || stdErrs[i] <= 0 {
			continue
		}
		if math.Abs(values[i]-q.Threshold) < t*stdErrs[i] {
			return i
		}
	}
	return -1
}

// ExtendHold decides whether a probe holds on (a pure function): when a verdict is within
// noise and another hold of length step still fits under maxHold (held is rounded to the
// second: a hold of 10 s measures a few milliseconds more).
func ExtendHold(qs []QuerySpec, values, stdErrs []float64, t float64, held, step, maxHold time.Duration) bool {
	return WithinNoise(qs, values, stdErrs, t) >= 0 && held.Round(time.Second)+step <= maxHold
}

// A short hold's own estimate of its noise is unreliable: 10 s give three batches of 3 s, and
// bursts of requests (a post that wakes a channel) last about that long, so the batches move
// together and understate the noise. The search therefore also pools the noise it measured in
// earlier probes of similar size, which the same users' bursts make alike, and uses the larger.

// NoiseFloor returns, for each query, the noise the history implies for a probe of n users
// held for held (a pure function): the median over the valid probes of n/2 to 2n users held
// at least minHold of their relative standard error x √hold, scaled by |value|/√held by
// FloorStdErrs. It is 0 for a query that fewer than two such probes measured.
func NoiseFloor(h []Probe, nq, n int, minHold time.Duration) []float64 {
	floor := make([]float64, nq)
	for i := range nq {
		var rel []float64
		for _, p := range h {
			if p.Verdict == Invalid || p.Users < n/2 || p.Users > 2*n || p.HoldSec < minHold.Seconds() ||
				i >= len(p.StdErrs) || i >= len(p.Values) || p.StdErrs[i] <= 0 || p.Values[i] == 0 {
				continue
			}
			rel = append(rel, p.StdErrs[i]/math.Abs(p.Values[i])*math.Sqrt(p.HoldSec))
		}
		if len(rel) >= 2 {
			slices.Sort(rel)
			m := len(rel) / 2
			floor[i] = rel[m]
			if len(rel)%2 == 0 {
				floor[i] = (rel[m-1] + rel[m]) / 2
			}
		}
	}
	return floor
}

// FloorStdErrs returns stdErrs, each raised to at least floor x |value| / √held.
func FloorStdErrs(stdErrs, values, floor []float64, held time.Duration) []float64 {
	out := slices.Clone(stdErrs)
	for i := range out {
		if i < len(floor) && i < len(values) && floor[i] > 0 && held > 0 {
			out[i] = max(out[i], floor[i]*math.Abs(values[i])/math.Sqrt(held.Seconds()))
		}
	}
	return out
}

// NoiseNote describes the worst alert query's interval for a probe's reason.
func NoiseNote(qs []QuerySpec, values, stdErrs []float64, t float64, held time.Duration, extended bool) string {
	worst, _ := worstAlert(qs, values)
	note := ""
	if worst >= 0 && worst < len(stdErrs) && stdErrs[worst] > 0 {
		note = fmt.Sprintf(" (±%.2g at 95%%)", t*stdErrs[worst])
	}
	if extended {
		note += fmt.Sprintf("; held %v because the value was within noise of the threshold", held.Round(time.Second))
		if WithinNoise(qs, values, stdErrs, t) >= 0 {
			note += ", and still is: this verdict could go either way"
		}
	}
	return note
}
