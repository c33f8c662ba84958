// Package search holds the capacity search's rules as pure functions of their inputs: a
// probe's verdict (Judge), the next step (Next), the noise of a hold (StdErr, ExtendHold),
// the users' drift (FitRate), whether a probe's population counts (UserProblem), and
// mattermost-load-test-ng's fixed-step loop (FixedStep). The coordinator's loops call them;
// nothing here blocks, measures or keeps state.
package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/loadtest/loadtest/internal/usermetrics"
)

// Verdict is what one probe found.
type Verdict string

// Verdicts.
const (
	Pass    Verdict = "pass"    // every alert query stayed below its threshold
	Fail    Verdict = "fail"    // an alert query reached its threshold
	Invalid Verdict = "invalid" // the probe measured the agents, not the target (saturated, lost)
)

// Probe is one step of the search: the users held, what the queries said over the hold, and
// what the agents measured.
type Probe struct {
	Users   int       `json:"users"`
	Verdict Verdict   `json:"verdict"`
	Reason  string    `json:"reason"`
	Values  []float64 `json:"values"` // per MonitorConfig.Queries entry
	// Margin is the worst alert query's (value - threshold) / |threshold|: < 0 passes.
	// MarginErr is its standard error (that query's, over |threshold|; 0: not measured).
	Margin    float64 `json:"margin"`
	MarginErr float64 `json:"margin_err,omitempty"`
	// Throughput is the requests per second the agents completed over the hold.
	Throughput float64 `json:"throughput"`
	// MeanLatency is the agents' mean request latency over the hold, in seconds.
	MeanLatency float64 `json:"mean_latency_s"`
	// Utilization is the highest agent utilization seen over the hold. OverShare is the
	// busiest agent's share of seconds above Search.MaxAgentUtilization (what Judge reads),
	// and CPU and Lag that agent's highest CPU share and schedule lag share.
	Utilization float64 `json:"utilization"`
	OverShare   float64 `json:"utilization_over_share"`
	CPU         float64 `json:"cpu,omitempty"`
	Lag         float64 `json:"lag,omitempty"`
	// StdErrs is each query's standard error over the hold, by batch means (0: not measured).
	StdErrs []float64 `json:"std_errs,omitempty"`
	// HoldSec is how long the probe held: Search.HoldSec, or longer when a value was within
	// noise of its threshold.
	HoldSec float64 `json:"hold_s,omitempty"`
	// WithinNoise says an alert query was still within noise of its threshold when the
	// probe ended (at Search.MaxHoldSec): its verdict could have gone either way.
	WithinNoise bool `json:"within_noise,omitempty"`
	// At is when the hold ended, in seconds from the search's start (0: not recorded).
	At float64 `json:"at_s,omitempty"`

	// The population the probe measured (see UserProblem): users still starting when the
	// hold began, sessions that ended during it (those users restarted), and the actions
	// and sessions that failed on the users' own side.
	NotStarted int     `json:"not_started,omitempty"`
	Restarts   int64   `json:"restarts,omitempty"`
	UserFaults int64   `json:"user_faults,omitempty"`
	FaultShare float64 `json:"user_fault_share,omitempty"`
	// Waiting is the most users waiting at once during the hold to restart after failing on
	// their own side: they were not in the population.
	Waiting int64 `json:"users_waiting,omitempty"`
	// WorkloadBroken says the probe is invalid because the users failed on their own side:
	// the workload, not the target or the agents.
	WorkloadBroken bool `json:"workload_broken,omitempty"`
	// ActionRate is the actions per second per user over the hold; RateNote warns when it
	// is far from what the configured behaviour makes.
	ActionRate float64 `json:"action_rate,omitempty"`
	RateNote   string  `json:"rate_note,omitempty"`
}

// QuerySpec is what Judge needs of a monitor query.
type QuerySpec struct {
	Description string
	Threshold   float64
	Alert       bool
}

// AgentLoad is how busy the busiest agent was over a hold, judged second by second against
// Limit (Search.MaxAgentUtilization); cluster.Window.Load measures it.
type AgentLoad struct {
	Agent     string
	Limit     float64
	OverShare float64 // the share of the agent's seconds above Limit
	CPU, Lag  float64 // its highest CPU share, and schedule lag as a share of 200 ms
	Max       float64 // its highest utilization (the larger part, second by second)
}

// Saturated says the agent was above its limit in more than usermetrics.MaxOverShare of
// its seconds: one bad second does not decide a probe, an agent above the line most of the
// time does.
func (l AgentLoad) Saturated() bool { return l.OverShare > usermetrics.MaxOverShare }

// Judge decides a probe's verdict from its measurements (a pure function). A saturated or
// incomplete set of agents makes it invalid whatever the queries say; otherwise it fails
// when any alert query reaches its threshold (the seed's rule: value >= Threshold).
func Judge(qs []QuerySpec, values []float64, load AgentLoad, agentProblem string) (Verdict, float64, string) {
	worst, margin := worstAlert(qs, values)
	switch {
	case agentProblem != "":
		return Invalid, margin, agentProblem
	case load.Saturated():
		return Invalid, margin, fmt.Sprintf("agent %s utilization > %.2f in %.0f%% of the seconds (CPU up to %.2f, schedule lag up to %.2f of 200 ms): the agents, not the target, may be the limit",
			load.Agent, load.Limit, 100*load.OverShare, load.CPU, load.Lag)
	case worst < 0:
		return Pass, margin, "no alert queries"
	case values[worst] >= qs[worst].Threshold:
		return Fail, margin, fmt.Sprintf("%s = %.4g >= threshold %.4g", qs[worst].Description, values[worst], qs[worst].Threshold)
	}
	return Pass, margin, fmt.Sprintf("worst: %s = %.4g < threshold %.4g", qs[worst].Description, values[worst], qs[worst].Threshold)
}

// MarginErr is the standard error of Judge's margin: the worst alert query's standard error
// over |threshold| (a pure function); 0 when it was not measured.
func MarginErr(qs []QuerySpec, values, stdErrs []float64) float64 {
	worst, _ := worstAlert(qs, values)
	if worst < 0 || worst >= len(stdErrs) || stdErrs[worst] <= 0 {
		return 0
	}
	if t := math.Abs(qs[worst].Threshold); t != 0 {
		return stdErrs[worst] / t
	}
	return stdErrs[worst]
}

// Pooled returns the history with each valid probe's verdict pooled with the earlier valid
// probes at the same users that agree with it (a pure function). Near the threshold a
// probe's verdict is a coin toss: the same users held twice can pass and fail, and taking
// the latest as the truth sends the search up and down the noise. Measurements of the same
// thing are averaged instead, each weighted by its hold (NoiseScale), and the verdict is the
// sign of the average. An earlier probe joins only while it agrees with the pool (their
// difference within 1.96 standard errors): a clear pass then a clear fail at the same users
// means the target or its users' demand moved, and the latest stands (a reversal, as
// before). Nor do probes that ended more than staleSec before it (when > 0 and the times
// are known): the stale rule re-probes a count because the users' demand may have moved
// since, and the fresh probe must then stand on its own. Margin, MarginErr and WithinNoise
// carry the pool's.
func Pooled(h []Probe, staleSec float64) []Probe {
	out := slices.Clone(h)
	for i, p := range h {
		if !poolable(p) {
			continue
		}
		var same []Probe // the probes at p.Users up to p, latest first
		for j := i; j >= 0; j-- {
			if q := h[j]; q.Users == p.Users && q.Verdict != Invalid && !q.WorkloadBroken {
				if !poolable(q) || (staleSec > 0 && p.At > 0 && q.At > 0 && p.At-q.At > staleSec) {
					break
				}
				same = append(same, q)
			}
		}
		if len(same) < 2 {
			continue
		}
		scale := NoiseScale(same)
		m, w := p.Margin, hold(p)
		k := 1
		for _, q := range same[1:] {
			// the pool's variance is scale²/w, the probe's scale²/hold(q)
			if math.Abs(q.Margin-m) > 1.96*scale*math.Sqrt(1/w+1/hold(q)) {
				break
			}
			m, w, k = (m*w+q.Margin*hold(q))/(w+hold(q)), w+hold(q), k+1
		}
		if k == 1 {
			continue
		}
		o := &out[i]
		o.Margin, o.MarginErr = m, scale/math.Sqrt(w)
		o.WithinNoise = math.Abs(m) < 1.96*o.MarginErr
		o.Verdict = Pass
		if m >= 0 {
			o.Verdict = Fail
		}
	}
	return out
}

// NoiseScale is the probes' margin noise for a hold of one second: the median of their
// MarginErr x √HoldSec. A probe's own error, estimated from a few batches, moves with its
// own value; weighting each by it would favour the probes that happened to measure low.
// Their holds, with one noise scale for all, weigh them without that bias.
func NoiseScale(ps []Probe) float64 {
	s := make([]float64, len(ps))
	for i, p := range ps {
		s[i] = p.MarginErr * math.Sqrt(hold(p))
	}
	slices.Sort(s)
	if m := len(s) / 2; len(s)%2 == 0 {
		return (s[m-1] + s[m]) / 2
	}
	return s[len(s)/2]
}

func hold(p Probe) float64 { return cmp.Or(p.HoldSec, 1) }

func poolable(p Probe) bool {
	return p.Verdict != Invalid && !p.WorkloadBroken && p.MarginErr > 0 && !math.IsInf(p.Margin, 0) && !math.IsNaN(p.Margin)
}

// worstAlert returns the alert query closest to (or farthest past) its threshold, and its
// margin (value - threshold) / |threshold|; -1 and -Inf when there is none.
func worstAlert(qs []QuerySpec, values []float64) (int, float64) {
	worst, margin := -1, math.Inf(-1)
	for i, q := range qs {
		if !q.Alert || i >= len(values) {
			continue
		}
		m := values[i] - q.Threshold
		if q.Threshold != 0 {
			m /= math.Abs(q.Threshold)
		}
		if m > margin {
			worst, margin = i, m
		}
	}
	return worst, margin
}

// Config tunes the adaptive search.
type Config struct {
	StartUsers int     // the first probe
	MaxUsers   int     // never probe beyond (ClusterConfig.MaxActiveUsers)
	Growth     float64 // bracketing multiplies the last passing count by this (> 1)
	// Precision ends refinement when the bracket is narrower than Precision x its lower end
	// (or one user).
	Precision float64
	// Confirmations is how many passes the answer needs after the bracket is closed.
	Confirmations int
	// MaxReversals ends the search when this many passes were later contradicted by a fail
	// at the same or fewer users: the target's capacity is moving, and the answer says so.
	MaxReversals int
	// InvalidRetries is how many invalid probes in a row at one count make it the agents'
	// ceiling: the search then stays below it.
	InvalidRetries int
	// StaleSec: before the search ends, the fail at the bracket's top is probed again when
	// its latest probe ended more than StaleSec before the last probe did (Probe.At). A
	// target's capacity, or its users' demand, can move during a search (simulative users
	// ask for less as their caches fill), and the fail bounding the answer must be as recent
	// as the pass it bounds. 0: never.
	StaleSec float64
}

// DefaultConfig returns the defaults for a cluster of maxUsers.
func DefaultConfig(maxUsers int) Config {
	return Config{StartUsers: max(1, min(50, maxUsers)), MaxUsers: maxUsers, Growth: 2, Precision: 0.02,
		Confirmations: 1, InvalidRetries: 2, MaxReversals: 3}
}

// Decision is what the search does next.
type Decision struct {
	Done   bool   `json:"done"`
	Users  int    `json:"users"` // the next probe's users, when not Done
	Reason string `json:"reason"`
	// Phase is "bracket", "refine", "confirm", "retry" or "done".
	Phase string `json:"phase"`
	// Result, when Done.
	Result Result `json:"result"`
}

// Result is the search's answer: SupportedUsers is the highest count that passed, and the
// truth lies in [Bracket[0], Bracket[1]) unless AtLeast says no failure was found.
type Result struct {
	SupportedUsers int    `json:"supported_users"`
	Bracket        [2]int `json:"bracket"` // [last pass, first fail); Bracket[1] is 0 when nothing failed
	AtLeast        bool   `json:"at_least"`
	// AgentLimited says the agents saturated before the target failed: the answer is a lower
	// bound set by the load generators.
	AgentLimited bool `json:"agent_limited"`
	// Unstable says the target's capacity moved during the search (passes failed later).
	Unstable bool `json:"unstable"`
	// WithinNoise says a probe bounding the answer (the pass at Bracket[0] or the fail at
	// Bracket[1]) ended within noise of its threshold: its verdict could have gone either way.
	WithinNoise bool `json:"within_noise,omitempty"`
	// NoAnswer says the search ended without the answer it was asked for: the workload
	// broke (WorkloadBroken), or the time budget ran out before the bracket narrowed.
	// SupportedUsers is then only what passed (a lower bound; 0: nothing did).
	NoAnswer       bool `json:"no_answer,omitempty"`
	WorkloadBroken bool `json:"workload_broken,omitempty"`
	// Knee is where throughput stops growing with users, from the operational laws:
	// Xmax x (R0 + Z), the highest throughput times the lightest probe's cycle time per user.
	Knee int `json:"knee"`
	// Estimate is the threshold's crossing fitted to the probes near the answer (Crossing),
	// when they give one. Fitted says SupportedUsers is that crossing (rounded down, and kept
	// between the clear verdicts around it) rather than the highest pass: the probes bounding
	// the answer were within noise, so their verdicts could have gone either way, and the
	// fit over all of them is the finer answer.
	Estimate *Estimate `json:"estimate,omitempty"`
	Fitted   bool      `json:"fitted,omitempty"`
}

// state is what the history implies.
type state struct {
	lo, hi     int // highest pass below the lowest fail; lowest fail (0: none)
	loProbe    *Probe
	fails      []*Probe // fails above lo, lowest first
	ceiling    int      // agents' ceiling from repeated invalid probes (0: none)
	confirmsLo int      // passes at lo since the bracket closed
	reversals  int      // fails at or below a count that had passed: the target changed
	precision  float64
	// fitPrecision: the search ends on a fitted crossing whose interval is within it
	// (FitPrecision x Precision).
	fitPrecision float64
	maxUsers     int // a fitted answer is never above it (0: no bound)
	// est is the crossing the probes near the bracket put the threshold at (Crossing), when
	// estOK; clearLo and clearHi bound it: the highest pass and the lowest fail whose pooled
	// verdicts were not within noise (0 and MaxInt when none).
	est              Estimate
	estOK            bool
	clearLo, clearHi int
}

func analyze(cfg Config, h []Probe) state {
	s := state{precision: cfg.Precision, fitPrecision: FitPrecision * cfg.Precision, maxUsers: cfg.MaxUsers}
	raw := h
	h = Pooled(h, cfg.StaleSec)
	invalidRun, invalidAt := 0, -1
	for i := range h {
		p := &h[i]
		if p.WorkloadBroken { // the users, not the agents: no ceiling (BrokenProbes ends the search)
			continue
		}
		if p.Verdict == Invalid {
			if p.Users == invalidAt {
				invalidRun++
			} else {
				invalidRun, invalidAt = 1, p.Users
			}
			if invalidRun >= cfg.InvalidRetries && (s.ceiling == 0 || p.Users < s.ceiling) {
				s.ceiling = p.Users
			}
			continue
		}
		invalidRun, invalidAt = 0, -1
		switch p.Verdict {
		case Pass:
			if p.Users == s.lo && s.hi != 0 {
				s.confirmsLo++
			}
			if p.Users > s.lo {
				s.lo, s.loProbe, s.confirmsLo = p.Users, p, 0
			}
			if s.hi != 0 && p.Users >= s.hi { // the target does better than a fail said: the next fail above bounds it
				s.hi = 0
				for j := range i {
					if q := &h[j]; q.Verdict == Fail && q.Users > p.Users && (s.hi == 0 || q.Users < s.hi) {
						s.hi = q.Users
					}
				}
			}
		case Fail:
			if s.hi == 0 || p.Users < s.hi {
				s.hi = p.Users
			}
			if p.Users <= s.lo { // a pass no longer holds: fall back to the best pass below
				s.reversals++
				s.lo, s.loProbe, s.confirmsLo = 0, nil, 0
				for j := range i {
					q := &h[j]
					if q.Verdict == Pass && q.Users < p.Users && q.Users > s.lo {
						s.lo, s.loProbe = q.Users, q
					}
				}
			}
		}
	}
	for i := range h {
		if h[i].Verdict == Fail && h[i].Users > s.lo && (s.hi == 0 || h[i].Users >= s.hi) {
			s.fails = append(s.fails, &h[i])
		}
	}
	slices.SortStableFunc(s.fails, func(a, b *Probe) int { return cmp.Compare(a.Users, b.Users) })
	s.est, s.estOK = Crossing(raw, s.lo, s.hi)
	s.clearLo, s.clearHi = clearBounds(h)
	return s
}

// Next decides the next probe from the history of probes (a pure function).
func Next(cfg Config, h []Probe) Decision {
	s := analyze(cfg, h)
	top := cfg.MaxUsers
	if k := len(h); k >= BrokenProbes && !slices.ContainsFunc(h[k-BrokenProbes:], func(p Probe) bool { return !p.WorkloadBroken }) {
		last := h[k-1]
		d := done(s, h, fmt.Sprintf("no answer: the workload broke at %d users in %d probes in a row (%s)", last.Users, BrokenProbes, last.Reason))
		d.Result.NoAnswer, d.Result.WorkloadBroken = true, true
		return d
	}
	if len(h) > 0 && h[len(h)-1].Verdict == Invalid && (s.ceiling == 0 || h[len(h)-1].Users < s.ceiling) {
		last := h[len(h)-1]
		return Decision{Users: last.Users, Phase: "retry", Reason: "the last probe was invalid (" + last.Reason + "); probing it again"}
	}
	if cfg.MaxReversals > 0 && s.reversals >= cfg.MaxReversals {
		d := done(s, h, fmt.Sprintf("the target is not stable: %d counts that passed failed later; the answer is the best pass below the latest failure", s.reversals))
		d.Result.Unstable = true
		return d
	}
	if s.hi == 0 && s.ceiling == 0 { // bracketing: grow until something fails
		if s.lo >= top {
			return done(s, h, fmt.Sprintf("nothing failed up to %d users", s.lo))
		}
		next := cfg.StartUsers
		if s.lo > 0 {
			next = int(math.Ceil(float64(s.lo) * cfg.Growth))
		}
		next = min(max(next, s.lo+1), top)
		return Decision{Users: next, Phase: "bracket", Reason: fmt.Sprintf("no failure yet; growing x%g from %d", cfg.Growth, s.lo)}
	}
	upper := s.hi
	if upper == 0 || (s.ceiling > 0 && s.ceiling < upper) {
		upper = s.ceiling
	}
	width := upper - s.lo
	if s.estOK && upper == s.hi && s.noisy() && s.est.Within(s.fitPrecision) {
		return done(s, h, fmt.Sprintf("bracket [%d, %d), and the threshold's crossing is known within %.1f%%", s.lo, s.hi, 100*FitPrecision*cfg.Precision))
	}
	if float64(width) <= math.Max(1, cfg.Precision*float64(s.lo)) {
		if upper == s.hi && len(s.fails) > 0 && s.fails[0].WithinNoise && probesAt(h, s.hi) <= cfg.Confirmations {
			return Decision{Users: s.hi, Phase: "confirm", Reason: fmt.Sprintf("bracket [%d, %d) is narrow, but the fail at %d was within noise; probing it again", s.lo, upper, s.hi)}
		}
		if age := staleness(h, s.hi); upper == s.hi && cfg.StaleSec > 0 && age > cfg.StaleSec {
			return Decision{Users: s.hi, Phase: "confirm", Reason: fmt.Sprintf("bracket [%d, %d) is narrow, but the fail at %d ended %.0fs before the last probe (> %.0fs); probing it again, as the target or its users' demand may have moved since", s.lo, upper, s.hi, age, cfg.StaleSec)}
		}
		if s.lo == 0 || s.confirmsLo >= cfg.Confirmations || upper == s.ceiling {
			return done(s, h, fmt.Sprintf("bracket [%d, %d) is within %.0f%%", s.lo, upper, 100*cfg.Precision))
		}
		return Decision{Users: s.lo, Phase: "confirm", Reason: fmt.Sprintf("bracket [%d, %d) is narrow; confirming %d", s.lo, upper, s.lo)}
	}
	if upper == s.ceiling { // the agents cannot go higher: find how close to their limit the target passes
		next := s.lo + width/2
		return Decision{Users: next, Phase: "refine", Reason: fmt.Sprintf("the agents saturate at %d users; bisecting [%d, %d)", s.ceiling, s.lo, s.ceiling)}
	}
	next, how := refine(s)
	return Decision{Users: next, Phase: "refine", Reason: fmt.Sprintf("bracket [%d, %d): %s", s.lo, s.hi, how)}
}

// FitPrecision: the search ends on the fitted crossing (Crossing) once its 95 % interval is
// within FitPrecision x Precision on each side, and the bracket's bounds are within noise.
// FitAnswer: when the search ends otherwise, the crossing is the answer only if its
// interval is within FitAnswer x Precision; a looser one (few probes, or a time term that
// the probes barely determine) is reported, and the bracket answers.
const (
	FitPrecision = 1.0
	FitAnswer    = 2.0
)

// noisy says a probe bounding the bracket was within noise of its threshold.
func (s state) noisy() bool {
	return (s.loProbe != nil && s.loProbe.WithinNoise) || (len(s.fails) > 0 && s.fails[0].WithinNoise)
}

// BrokenProbes is how many probes in a row whose workload broke end the search without an
// answer: one is retried, as any invalid probe is, in case the failures were passing.
const BrokenProbes = 2

// BudgetSpent is the decision when the time budget ran out (a pure function): what the
// history says, an answer only if the bracket was already within Precision.
func BudgetSpent(cfg Config, h []Probe) Decision {
	s := analyze(cfg, h)
	d := done(s, h, "the time budget ran out")
	upper := s.hi
	if s.ceiling > 0 && (upper == 0 || s.ceiling < upper) {
		upper = s.ceiling
	}
	if upper == 0 || s.lo == 0 || float64(upper-s.lo) > math.Max(1, cfg.Precision*float64(s.lo)) {
		d.Result.NoAnswer = true
		d.Reason = fmt.Sprintf("no answer: the time budget ran out with the bracket at [%d, %s), wider than %.0f%%; a longer Search.TimeBudgetSec narrows it",
			s.lo, bound(upper), 100*cfg.Precision) + strings.TrimPrefix(d.Reason, "the time budget ran out")
	}
	return d
}

func bound(n int) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

// staleness is how long before the last probe the latest valid probe at n users ended, in
// seconds (Probe.At); 0 when there is none or the times were not recorded.
func staleness(h []Probe, n int) float64 {
	for i := len(h) - 1; i >= 0; i-- {
		if p := h[i]; p.Users == n && p.Verdict != Invalid {
			if p.At <= 0 {
				return 0
			}
			return h[len(h)-1].At - p.At
		}
	}
	return 0
}

// probesAt counts the valid probes at n users.
func probesAt(h []Probe, n int) int {
	k := 0
	for _, p := range h {
		if p.Users == n && p.Verdict != Invalid {
			k++
		}
	}
	return k
}

// refine picks a count strictly inside (lo, hi): the line through the two lowest fails (the
// operational laws make latency linear in users past the knee), else the secant between lo
// and hi, else the middle; kept a tenth of the bracket (or half the precision, if less)
// away from its ends, so every probe shrinks the bracket.
func refine(s state) (int, string) {
	lo, hi := float64(s.lo), float64(s.hi)
	guard := math.Max(1, 0.1*(hi-lo))
	cand, how := math.NaN(), ""
	if est := s.est; s.estOK && s.noisy() && est.Users > lo && est.Users < hi {
		// Within noise, the bracket's ends say little about where between them the
		// threshold is; every probe near it does.
		cand, how = est.Users, fmt.Sprintf("the crossing fitted to the %d probes near the answer is at %.0f ± %.0f", est.Probes, est.Users, est.Err)
	} else if len(s.fails) >= 2 {
		a, b := s.fails[0], s.fails[1]
		if b.Margin > a.Margin && b.Users > a.Users {
			cand = float64(a.Users) - a.Margin*float64(b.Users-a.Users)/(b.Margin-a.Margin)
			how = fmt.Sprintf("the line through the fails at %d and %d crosses the threshold at %.0f", a.Users, b.Users, cand)
			// Past the knee this line is the operational law itself (R = N/X - Z), so it
			// may go close to the bracket's ends.
			guard = math.Max(1, math.Min(guard, 0.5*s.precision*lo))
		}
	}
	if (math.IsNaN(cand) || cand <= lo || cand >= hi) && s.loProbe != nil && len(s.fails) > 0 {
		guard = math.Max(1, 0.1*(hi-lo))
		a, b := s.loProbe, s.fails[0]
		if b.Margin > a.Margin && !math.IsInf(a.Margin, 0) {
			cand = lo + (-a.Margin)*(hi-lo)/(b.Margin-a.Margin)
			how = fmt.Sprintf("the secant between %d and %d crosses the threshold at %.0f", a.Users, b.Users, cand)
		}
	}
	if math.IsNaN(cand) || math.IsInf(cand, 0) {
		cand, how = (lo+hi)/2, "bisecting"
	}
	clamped := math.Min(math.Max(cand, lo+guard), hi-guard)
	if clamped != cand {
		how += fmt.Sprintf(", kept inside the bracket at %.0f", clamped)
	}
	n := int(math.Round(clamped))
	n = min(max(n, s.lo+1), s.hi-1)
	return n, how
}

func done(s state, h []Probe, why string) Decision {
	r := Result{SupportedUsers: s.lo, Bracket: [2]int{s.lo, s.hi}, AtLeast: s.hi == 0, Knee: Knee(h)}
	if s.ceiling > 0 && (s.hi == 0 || s.ceiling < s.hi) {
		r.AgentLimited, r.AtLeast, r.Bracket[1] = true, true, 0
		why += fmt.Sprintf("; the agents saturate at %d users, so this is a lower bound", s.ceiling)
	}
	if s.estOK && !r.AgentLimited {
		est := s.est
		r.Estimate = &est
	}
	switch {
	case s.noisy() && r.Estimate != nil && r.Estimate.Within(FitAnswer*s.precision):
		r.WithinNoise, r.Fitted = true, true
		lo, hi := s.clearLo, s.clearHi
		if s.maxUsers > 0 {
			hi = min(hi, s.maxUsers+1)
		}
		r.SupportedUsers = min(max(int(r.Estimate.Users), lo), hi-1)
		why += fmt.Sprintf("; the probes bounding it were within noise of the threshold, so the answer is the crossing fitted to the %d probes near it: %.0f ± %.0f users at 95%%", r.Estimate.Probes, r.Estimate.Users, r.Estimate.Err)
		if r.Estimate.Drift {
			why += ", read at the last probe's time (the margin drifted with time)"
		}
		if r.SupportedUsers != int(r.Estimate.Users) {
			why += fmt.Sprintf(", kept at %d by the clear verdicts around it", r.SupportedUsers)
		}
	case s.noisy():
		r.WithinNoise = true
		why += "; a probe bounding the answer was still within noise of its threshold at MaxHoldSec, so another run may differ (hold longer for a firmer answer)"
		if e := r.Estimate; e != nil {
			why += fmt.Sprintf("; the crossing fitted to the %d probes near it, %.0f ± %.0f users at 95%%, is too loose to be the answer", e.Probes, e.Users, e.Err)
		}
	}
	return Decision{Done: true, Phase: "done", Reason: why, Result: r}
}

// clearBounds returns the highest pass and the lowest fail of a pooled history (in time
// order) whose verdicts were not within noise: what a fitted answer may not contradict (0
// and MaxInt when none). A later clear verdict that contradicts an earlier one (a pass at
// or above an earlier fail, or a fail at or below an earlier pass) supersedes it: the
// users' demand or the target moved in between, and the bounds are the newer verdicts'.
func clearBounds(pooled []Probe) (lo, hi int) {
	var passes, fails []int
	for _, p := range pooled {
		switch {
		case p.WithinNoise || p.WorkloadBroken:
		case p.Verdict == Pass:
			fails = slices.DeleteFunc(fails, func(u int) bool { return u <= p.Users })
			passes = append(passes, p.Users)
		case p.Verdict == Fail:
			passes = slices.DeleteFunc(passes, func(u int) bool { return u >= p.Users })
			fails = append(fails, p.Users)
		}
	}
	lo, hi = 0, math.MaxInt
	if len(passes) > 0 {
		lo = slices.Max(passes)
	}
	if len(fails) > 0 {
		hi = slices.Min(fails)
	}
	return lo, hi
}

// Knee estimates where throughput saturates: Xmax x (the lightest valid probe's users /
// its throughput), from the operational laws (N* = Xmax (R0 + Z), where R0 + Z = N/X at
// light load). 0 when no probe measured throughput.
func Knee(h []Probe) int {
	xmax, light := 0.0, -1
	for i, p := range h {
		if p.Verdict == Invalid || p.Throughput <= 0 {
			continue
		}
		xmax = math.Max(xmax, p.Throughput)
		if light < 0 || p.Users < h[light].Users {
			light = i
		}
	}
	if light < 0 {
		return 0
	}
	cycle := float64(h[light].Users) / h[light].Throughput
	return int(math.Round(xmax * cycle))
}

// Population says what the probe's users did besides their steady work ("" when nothing).
func (p Probe) Population() string { return strings.TrimPrefix(PopulationNote(p), "; ") }

// MeanMs is the probe's mean latency in milliseconds.
func (p Probe) MeanMs() float64 { return 1000 * p.MeanLatency }

// SoFar is what a search that ended early knew: the best pass below the lowest fail (0:
// none passed) and that fail (0: none).
func SoFar(cfg Config, h []Probe) (lo, hi int) {
	s := analyze(cfg, h)
	return s.lo, s.hi
}
