// Package compare puts two runs' reports side by side: the answers with their brackets, and
// each route's and action's p50, p99 and error rate over the comparable seconds (a search's
// holds at its answer, a plan's sustain), with the change and a 95 % bootstrap interval of
// it over the per-second intervals, so a pull request can say whether a change is real or
// noise. Markdown for a pull request, HTML for a browser.
package compare

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/loadtest/loadtest/coordinator"
)

// Resamples is how many bootstrap resamples each interval takes.
const Resamples = 2000

// Comparison is two runs side by side.
type Comparison struct {
	A      Run   `json:"a"`
	B      Run   `json:"b"`
	Answer Delta `json:"answer"` // supported users (searches)
	// BracketsOverlap says the two searches' brackets share a user count: the answers may
	// not differ at all.
	BracketsOverlap bool     `json:"brackets_overlap"`
	Keys            []Key    `json:"keys"`             // routes and actions in both runs, busiest first
	OnlyA           []string `json:"only_a,omitempty"` // keys in one run only
	OnlyB           []string `json:"only_b,omitempty"`
	Notes           []string `json:"notes,omitempty"` // what could not be compared, and why
}

// Run is one side: what it is and what it found.
type Run struct {
	Name      string              `json:"name"`
	Kind      string              `json:"kind"` // "search" or "plan"
	Supported int                 `json:"supported_users"`
	Bracket   [2]int              `json:"bracket"`
	AtLeast   bool                `json:"at_least"`
	Outcome   coordinator.Outcome `json:"outcome"`
	Knee      int                 `json:"knee"`
	Window    string              `json:"window"`  // which seconds the keys are compared over
	Seconds   int                 `json:"seconds"` // how many
}

// Key is one route's or action's comparison.
type Key struct {
	Key      string `json:"key"`
	CountA   int64  `json:"count_a"`
	CountB   int64  `json:"count_b"`
	P50      Delta  `json:"p50_ms"`
	P99      Delta  `json:"p99_ms"`
	ErrorPct Delta  `json:"error_pct"`
}

// Delta is a statistic in both runs, the change B - A, and its 95 % bootstrap interval.
type Delta struct {
	A           float64    `json:"a"`
	B           float64    `json:"b"`
	Change      float64    `json:"change"`
	Interval    [2]float64 `json:"interval"`    // of the change; zero when not measured
	Significant bool       `json:"significant"` // the interval excludes 0
	Measured    bool       `json:"measured"`    // both sides had seconds to resample
}

// Compare compares run a with run b; nameA and nameB label them.
func Compare(nameA string, a coordinator.Report, nameB string, b coordinator.Report) Comparison {
	c := Comparison{A: side(nameA, a), B: side(nameB, b)}
	c.Answer = Delta{A: float64(a.SupportedUsers), B: float64(b.SupportedUsers), Change: float64(b.SupportedUsers - a.SupportedUsers)}
	c.BracketsOverlap = overlap(a.Bracket, b.Bracket)
	for _, r := range []struct {
		side string
		rep  coordinator.Report
	}{{"A", a}, {"B", b}} {
		if len(r.rep.Keys) == 0 && len(r.rep.Series) > 0 {
			c.Notes = append(c.Notes, r.side+"'s report has no per-second statistics per route (written by a version before they were recorded): its routes are not compared")
		}
	}
	secsA, secsB := window(a), window(b)
	c.A.Seconds, c.B.Seconds = len(secsA), len(secsB)
	byKey := func(r coordinator.Report) map[string]coordinator.KeySeries {
		m := map[string]coordinator.KeySeries{}
		for _, k := range r.Keys {
			m[k.Key] = k
		}
		return m
	}
	ka, kb := byKey(a), byKey(b)
	rng := rand.New(rand.NewPCG(1, 2)) // the same intervals for the same reports
	for key, sa := range ka {
		sb, ok := kb[key]
		if !ok {
			c.OnlyA = append(c.OnlyA, key)
			continue
		}
		pa, pb := points(sa, secsA), points(sb, secsB)
		if len(pa) == 0 && len(pb) == 0 { // not in the compared seconds of either (logins at the start)
			continue
		}
		k := Key{Key: key, CountA: total(pa), CountB: total(pb)}
		k.P50 = delta(rng, pa, pb, func(p point) float64 { return p.p50 }, weightedMean)
		k.P99 = delta(rng, pa, pb, func(p point) float64 { return p.p99 }, weightedMean)
		k.ErrorPct = delta(rng, pa, pb, nil, errorPct)
		c.Keys = append(c.Keys, k)
	}
	for key := range kb {
		if _, ok := ka[key]; !ok {
			c.OnlyB = append(c.OnlyB, key)
		}
	}
	slices.Sort(c.OnlyA)
	slices.Sort(c.OnlyB)
	slices.SortFunc(c.Keys, func(x, y Key) int {
		if d := (y.CountA + y.CountB) - (x.CountA + x.CountB); d != 0 {
			return int(math.Copysign(1, float64(d)))
		}
		return strings.Compare(x.Key, y.Key)
	})
	return c
}

func side(name string, r coordinator.Report) Run {
	s := Run{Name: name, Kind: "search", Supported: r.SupportedUsers, Bracket: r.Bracket, AtLeast: r.AtLeast, Outcome: r.Outcome, Knee: r.Knee,
		Window: WindowText(r)}
	if r.Plan != nil {
		s.Kind = "plan"
	}
	return s
}

// overlap says whether two brackets [lo, hi) share a count (hi 0: unbounded).
func overlap(a, b [2]int) bool {
	hi := func(x [2]int) int {
		if x[1] == 0 {
			return math.MaxInt
		}
		return x[1]
	}
	return a[0] < hi(b) && b[0] < hi(a)
}

// window returns the seconds (indexes of Series) a run's keys are compared over: a plan's
// sustain; a search's holds at its answer (else at the most users that held, else every
// hold); else every second.
func window(r coordinator.Report) map[int]bool {
	pick := func(f func(s coordinator.Second) bool) map[int]bool {
		m := map[int]bool{}
		for i, s := range r.Series {
			if f(s) {
				m[i] = true
			}
		}
		return m
	}
	if r.Plan != nil {
		if m := pick(func(s coordinator.Second) bool { return s.Phase == "sustain" }); len(m) > 0 {
			return m
		}
	} else {
		if m := pick(func(s coordinator.Second) bool { return s.Phase == "hold" && s.Users == r.SupportedUsers }); len(m) > 0 {
			return m
		}
		if m := pick(func(s coordinator.Second) bool { return s.Phase == "hold" }); len(m) > 0 {
			return m
		}
	}
	return pick(func(coordinator.Second) bool { return true })
}

// WindowText says which seconds a report's keys are compared over.
func WindowText(r coordinator.Report) string {
	if r.Plan != nil {
		return "the sustain phase"
	}
	return fmt.Sprintf("the holds at %d users", r.SupportedUsers)
}

type point struct {
	n, errs  int64
	p50, p99 float64
}

func points(k coordinator.KeySeries, secs map[int]bool) []point {
	var out []point
	for i, s := range k.Sec {
		if secs[s] {
			out = append(out, point{n: k.Count[i], errs: k.Errors[i], p50: k.P50[i], p99: k.P99[i]})
		}
	}
	return out
}

func total(ps []point) int64 {
	var n int64
	for _, p := range ps {
		n += p.n
	}
	return n
}

// weightedMean is the count-weighted mean of f over the seconds.
func weightedMean(ps []point, f func(point) float64) float64 {
	var sum, n float64
	for _, p := range ps {
		sum += f(p) * float64(p.n)
		n += float64(p.n)
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// errorPct is the seconds' failed requests in percent of all.
func errorPct(ps []point, _ func(point) float64) float64 {
	var errs, n int64
	for _, p := range ps {
		errs, n = errs+p.errs, n+p.n
	}
	if n == 0 {
		return 0
	}
	return 100 * float64(errs) / float64(n)
}

// delta is the statistic on both sides and the 95 % percentile-bootstrap interval of its
// change, resampling each side's seconds with replacement.
func delta(rng *rand.Rand, a, b []point, f func(point) float64, stat func([]point, func(point) float64) float64) Delta {
	d := Delta{A: stat(a, f), B: stat(b, f)}
	d.Change = d.B - d.A
	if len(a) < 2 || len(b) < 2 {
		return d
	}
	changes := make([]float64, Resamples)
	ra, rb := make([]point, len(a)), make([]point, len(b))
	for i := range changes {
		for j := range ra {
			ra[j] = a[rng.IntN(len(a))]
		}
		for j := range rb {
			rb[j] = b[rng.IntN(len(b))]
		}
		changes[i] = stat(rb, f) - stat(ra, f)
	}
	slices.Sort(changes)
	d.Interval = [2]float64{changes[Resamples*25/1000], changes[Resamples*975/1000-1]}
	d.Measured = true
	d.Significant = d.Interval[0] > 0 || d.Interval[1] < 0
	return d
}
