package controller

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"math/rand/v2"

	"github.com/loadtest/loadtest/agentconfig"
)

// Picker chooses actions by weight. It is built once per agent and shared read-only.
type Picker struct {
	names []string
	cum   []float64 // cumulative weights, ascending
}

// NewPicker builds a Picker from weights; actions with weight 0 are left out.
func NewPicker(weights map[string]float64) Picker {
	var p Picker
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range weights {
			if !yield(k) {
				return
			}
		}
	}) {
		if w := weights[n]; w > 0 {
			total := w
			if len(p.cum) > 0 {
				total += p.cum[len(p.cum)-1]
			}
			p.names, p.cum = append(p.names, n), append(p.cum, total)
		}
	}
	return p
}

// Pick returns the action for a uniform draw u in [0, 1): a pure function of u.
func (p Picker) Pick(u float64) string {
	target := u * p.cum[len(p.cum)-1]
	i, _ := slices.BinarySearchFunc(p.cum, target, func(c, t float64) int {
		if c <= t {
			return -1
		}
		return 1
	})
	return p.names[min(i, len(p.names)-1)]
}

// Shares returns each action's expected share of picks.
func (p Picker) Shares() map[string]float64 {
	out := map[string]float64{}
	prev, total := 0.0, p.cum[len(p.cum)-1]
	for i, n := range p.names {
		out[n] = (p.cum[i] - prev) / total
		prev = p.cum[i]
	}
	return out
}

// SimpleNext is the simple users' schedule: from position i of cycle cycle, it returns the
// index of the next action to run and the cycle it runs in (an action runs on the cycles
// where cycle % RunPeriod == 0; cycles count from 0). A pure function.
func SimpleNext(actions []agentconfig.SimpleAction, cycle, i int) (int, int) {
	for {
		i++
		if i >= len(actions) {
			i, cycle = 0, cycle+1
		}
		if cycle%actions[i].RunPeriod == 0 {
			return i, cycle
		}
	}
}

// NextDue is when a user's next action is due, the last having been due at due and ended at
// now, after a think time of wait (a pure function). Closed pacing: wait after now. Open
// pacing: wait after due, the user's rate independent of latency; when that is already more
// than a wait past (the user fell behind), the arrivals in between are dropped (returned) and
// the next is due now, so a slow target does not get a burst of catch-up requests.
func NextDue(open bool, due, now time.Time, wait time.Duration) (time.Time, int) {
	if !open || due.IsZero() {
		return now.Add(wait), 0
	}
	next := due.Add(wait)
	if behind := now.Sub(next); behind > wait && wait > 0 {
		return now, int(behind / wait)
	}
	return next, 0
}

// ThinkTime is the pause before the next action for a uniform draw u in [0, 1): uniform on
// [Min, 2·Avg−Min) (mean Avg), or exponential with mean Avg floored at Min, then multiplied
// by the user's think-time multiplier. A pure function of its inputs.
func ThinkTime(c agentconfig.SimulativeConfig, multiplier, u float64) time.Duration {
	lo, avg := float64(c.MinIdleTimeMs), float64(c.AvgIdleTimeMs)
	var ms float64
	switch c.ThinkTimeDistribution {
	case "exponential":
		ms = max(lo, -avg*math.Log(1-u))
	default:
		ms = lo + u*(2*avg-2*lo)
	}
	return time.Duration(ms * multiplier * float64(time.Millisecond))
}

var words = strings.Fields(`the a an load test of users who post and read and react in channels with
teams threads replies messages server latency capacity search knee bracket probe agent
coordinator metrics histogram seconds minutes quickly slowly today tomorrow again still more
release deploy review merge build green red fast slow meeting lunch coffee plan ship fix bug
feature design question answer thanks great idea maybe later soon done`)

var emojiNames = []string{"smile", "+1", "heart", "tada", "eyes", "rocket", "laughing", "white_check_mark"}

// Message returns 1..(2·avg−1) words, averaging avg as the reference's users do; 10% end
// with an emoji.
func Message(rng *rand.Rand, avg int) string {
	n := 1 + rng.IntN(max(1, 2*avg-1))
	b := make([]string, n)
	for i := range b {
		b[i] = words[rng.IntN(len(words))]
	}
	m := strings.Join(b, " ")
	if rng.IntN(10) == 0 {
		m += " :" + emojiNames[rng.IntN(len(emojiNames))] + ":"
	}
	return m
}

// Emoji returns a random emoji name.
func Emoji(rng *rand.Rand) string { return emojiNames[rng.IntN(len(emojiNames))] }

// ExpectedActionRate is how many actions a second one user of cfg makes when each action
// takes latency (a pure function): one per think time plus latency (one per think time
// with open pacing, while latency is below it), with the think time's
// mean multiplied by the mean of RatesDistribution; for scripts, one iteration per PaceMs
// when every script is paced. 0 when the behaviour sets no rate (unpaced scripts).
func ExpectedActionRate(cfg agentconfig.Config, latency time.Duration) float64 {
	uc := cfg.UserControllerConfiguration
	mult := 1.0
	if len(uc.RatesDistribution) > 0 {
		mult = 0
		for _, r := range uc.RatesDistribution {
			mult += r.Percentage * r.Multiplier()
		}
	}
	var think time.Duration
	switch uc.Type {
	case "noop":
		think = time.Duration(float64(NoopPeriod) * mult)
	case "simulative":
		think = time.Duration(float64(uc.Simulative.AvgIdleTimeMs) * mult * float64(time.Millisecond))
	case "simple":
		// The mean wait over the actions that run: each runs on 1 cycle in RunPeriod.
		waits, runs := 0.0, 0.0
		for _, a := range uc.Simple.Actions {
			waits += float64(a.WaitAfterMs) / float64(max(a.RunPeriod, 1))
			runs += 1 / float64(max(a.RunPeriod, 1))
		}
		if runs > 0 {
			think = time.Duration(waits / runs * mult * float64(time.Millisecond))
		}
	case "script":
		rate, shares := 0.0, 0.0
		for _, s := range uc.Script.Scripts {
			if s.PaceMs <= 0 {
				return 0
			}
			share := cmp.Or(s.Share, 1)
			rate += share * 1000 / float64(s.PaceMs)
			shares += share
		}
		if shares == 0 {
			return 0
		}
		return rate / shares
	default:
		return 0
	}
	if uc.Pacing == "open" {
		latency = max(0, latency-think)
	}
	if think+latency <= 0 {
		return 0
	}
	return 1 / (think + latency).Seconds()
}
