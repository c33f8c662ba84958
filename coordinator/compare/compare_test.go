package compare

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/loadtest/loadtest/coordinator"
)

// search makes a search's report whose answer is users, with 60 hold seconds at it in
// which route "route GET /x" has a p99 around p99 ms (±20 % noise) and errPct % errors.
func search(seed uint64, users int, bracket [2]int, p99, errPct float64) coordinator.Report {
	rng := rand.New(rand.NewPCG(seed, 7))
	r := coordinator.Report{SupportedUsers: users, Bracket: bracket, Outcome: coordinator.Answered}
	k := coordinator.KeySeries{Key: "route GET /x"}
	for i := range 80 {
		phase := "hold"
		if i < 20 {
			phase = "ramp" // not compared
		}
		r.Series = append(r.Series, coordinator.Second{Users: users, Phase: phase})
		n := int64(100)
		v := p99 * (1 + 0.2*rng.NormFloat64())
		if phase == "ramp" {
			v *= 10
		}
		k.Sec = append(k.Sec, i)
		k.Count = append(k.Count, n)
		k.Errors = append(k.Errors, int64(float64(n)*errPct/100+rng.Float64()))
		k.P50, k.P99 = append(k.P50, v/3), append(k.P99, v)
	}
	r.Keys = []coordinator.KeySeries{k}
	return r
}

// TestCompare: a p99 50 % higher is significant, its interval holds the true change and
// excludes 0; the same target measured again is not; the ramp is left out; the answers'
// brackets decide whether the answers differ.
func TestCompare(t *testing.T) {
	a := search(1, 440, [2]int{440, 449}, 10, 1)
	a.Keys = append(a.Keys, coordinator.KeySeries{Key: "route GET /only-a", Sec: []int{30}, Count: []int64{1}, Errors: []int64{0}, P50: []float64{1}, P99: []float64{1}})
	slower := search(2, 400, [2]int{400, 409}, 15, 1)
	again := search(3, 445, [2]int{445, 454}, 10, 1)

	c := Compare("main", a, "pr", slower)
	if len(c.Keys) != 1 || c.OnlyA[0] != "route GET /only-a" || c.A.Seconds != 60 {
		t.Fatalf("keys %+v, only in A %v, %d seconds (want the 60 of the holds)", c.Keys, c.OnlyA, c.A.Seconds)
	}
	p99 := c.Keys[0].P99
	if !p99.Significant || p99.Interval[0] > 5 || p99.Interval[1] < 5 || p99.Interval[0] <= 0 {
		t.Errorf("p99 +5 ms: %+v; want a significant change whose interval holds 5", p99)
	}
	if c.BracketsOverlap || !strings.Contains(c.AnswerChange(), "-40 users (-9.1 %); the brackets do not overlap") {
		t.Errorf("answer: %q (overlap %v)", c.AnswerChange(), c.BracketsOverlap)
	}
	c2 := Compare("main", a, "again", again)
	if k := c2.Keys[0]; k.P99.Significant || k.ErrorPct.Significant || !k.P99.Measured {
		t.Errorf("the same target again: %+v; want no significant change", k)
	}
	if !c2.BracketsOverlap || !strings.Contains(c2.AnswerChange(), "within the search's precision") {
		t.Errorf("overlapping brackets: %q", c2.AnswerChange())
	}
	bound := a
	bound.AtLeast, bound.Bracket = true, [2]int{440, 0}
	if got := Compare("a", bound, "b", slower).AnswerChange(); !strings.Contains(got, "a lower bound on one side") {
		t.Errorf("a lower bound compared: %q", got)
	}
	var md strings.Builder
	if err := c.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| supported users [bracket) | 440 [440, 449) | 400 [400, 409) |", "| route GET /x | 6000 / 6000 |", "**significant**", "Only in A: route GET /only-a"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var h strings.Builder
	if err := c.HTML(&h); err != nil || !strings.Contains(h.String(), `<b class="sig">`) || !strings.Contains(h.String(), "<td>route GET /x</td>") {
		t.Errorf("HTML: %v\n%s", err, h.String())
	}
}
