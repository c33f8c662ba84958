package coordinator

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/monitor"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/controller"
)

// adaptive runs our search: probe, judge, decide, until Next says done or the budget ends.
func (c *Coordinator) adaptive(ctx context.Context, q monitor.Querier) error {
	s := c.cfg.Search
	sc := search.DefaultConfig(c.cfg.ClusterConfig.MaxActiveUsers)
	if s.StartUsers > 0 {
		sc.StartUsers = min(s.StartUsers, sc.MaxUsers)
	}
	sc.Growth, sc.Precision, sc.StaleSec = s.Growth, s.Precision, float64(s.Stale())
	start := time.Now()
	budget := start.Add(time.Duration(s.TimeBudgetSec) * time.Second)
	specs := make([]search.QuerySpec, len(c.cfg.MonitorConfig.Queries))
	for i, qq := range c.cfg.MonitorConfig.Queries {
		specs[i] = search.QuerySpec{Description: qq.Description, Threshold: qq.Threshold, Alert: qq.Alert}
	}
	var probes []search.Probe
	for {
		d := search.Next(sc, probes)
		c.decided(d, len(probes))
		if d.Done {
			c.printf("done: %s", d.Reason)
			c.rateDrift(probes, d.Result.SupportedUsers)
			return nil
		}
		if time.Now().After(budget) {
			d = search.BudgetSpent(sc, probes)
			c.decided(d, len(probes))
			c.printf("time budget of %ds spent: %s", s.TimeBudgetSec, d.Reason)
			c.rateDrift(probes, d.Result.SupportedUsers)
			return nil
		}
		c.printf("probe %d: %d users (%s: %s)", len(probes)+1, d.Users, d.Phase, d.Reason)
		p, err := c.probe(ctx, q, specs, d.Users, probes)
		if err != nil {
			return err
		}
		p.At = time.Since(start).Seconds()
		probes = append(probes, p)
		c.mu.Lock()
		c.report.Probes = append(c.report.Probes, p)
		c.values = p.Values
		c.notifyLocked()
		c.mu.Unlock()
		c.printf("probe %d: %d users %s: %s | %.0f req/s, mean %.1f ms, agent utilization max %.2f (CPU %.2f, lag %.2f), above the limit %.0f%% of the time%s",
			len(probes), p.Users, strings.ToUpper(string(p.Verdict)), p.Reason, p.Throughput, 1000*p.MeanLatency, p.Utilization,
			p.CPU, p.Lag, 100*p.OverShare, search.PopulationNote(p))
	}
}

// DriftWorthNoting is the drift of the users' rate, relative a minute, from which the
// coordinator says the users' demand was not steady.
const DriftWorthNoting = 0.005

// rateDrift records how each user's request rate moved during the search, and says so when
// it moved enough to matter: the answer then describes the target as the search ended.
func (c *Coordinator) rateDrift(probes []search.Probe, answer int) {
	fit, ok := search.FitRate(search.NearAnswer(probes, answer))
	if !ok {
		return
	}
	c.mu.Lock()
	c.report.RateDriftPerMin = fit.DriftPerMin()
	c.mu.Unlock()
	if math.Abs(fit.DriftPerMin()) >= DriftWorthNoting {
		c.printf("note: each user's request rate moved %+.1f%% a minute during the search (%d probes within 25%% of the answer, mean %.3g/s): the users' demand was not steady, so the answer describes the target as the search ended",
			100*fit.DriftPerMin(), fit.Probes, fit.Mean)
	}
}

// decided records a decision in the status and the report.
func (c *Coordinator) decided(d search.Decision, probes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.Message, c.status.Probes = d.Reason, probes
	c.report.Decisions = append(c.report.Decisions, TimedDecision{Time: time.Now(), Decision: d})
	if d.Done {
		c.report.setResult(d)
		c.status.SupportedUsers = d.Result.SupportedUsers
		c.status.Bracket = d.Result.Bracket
	}
	c.notifyLocked()
}

// probe ramps to n users (at most RampRate more a second), settles, holds while measuring,
// then evaluates the queries over exactly the hold and judges the probe.
func (c *Coordinator) probe(ctx context.Context, q monitor.Querier, specs []search.QuerySpec, n int, history []search.Probe) (search.Probe, error) {
	s := c.cfg.Search
	var problems []string
	if c.cl.Recover(ctx) == 0 {
		return search.Probe{}, fmt.Errorf("no agent is reachable: %s", c.cl.Problem())
	}
	cur := c.cl.Users()
	from := cur
	for cur != n { // ramp: up by at most RampRate a second, down at once
		next := n
		if n > cur {
			next = min(n, cur+s.RampRate)
		}
		problems = append(problems, c.cl.SetUsers(ctx, next)...)
		cur = next
		if cur != n {
			p, err := c.hold(ctx, time.Second, "ramp", nil)
			problems = append(problems, p...)
			if err != nil {
				return search.Probe{}, err
			}
		}
	}
	if n > from {
		p, err := c.waitStarted(ctx)
		problems = append(problems, p...)
		if err != nil {
			return search.Probe{}, err
		}
	}
	p, err := c.hold(ctx, time.Duration(s.SettleSec)*time.Second, "settle", nil)
	problems = append(problems, p...)
	if err != nil {
		return search.Probe{}, err
	}
	c.tick(ctx, "settle", nil) // drain what the settle recorded, so the hold starts clean
	notStarted := c.starting
	acc := cluster.Window{Hist: histogram.Snapshot{}}
	holdStart := time.Now()
	p, err = c.hold(ctx, time.Duration(s.HoldSec)*time.Second, "hold", &acc)
	problems = append(problems, p...)
	if err != nil {
		return search.Probe{}, err
	}
	holdEnd := time.Now()
	step := time.Duration(s.HoldSec) * time.Second
	maxHold := time.Duration(s.MaxHold()) * time.Second
	var values, stdErrs []float64
	var t float64
	extended := false
	floor := search.NoiseFloor(history, len(specs), n, 2*step)
	for {
		values, err = c.evaluateHolding(ctx, q, holdEnd, holdEnd.Sub(holdStart))
		if err != nil {
			return search.Probe{}, err
		}
		stdErrs, t = c.noise(ctx, q, holdStart, holdEnd)
		stdErrs = search.FloorStdErrs(stdErrs, values, floor, holdEnd.Sub(holdStart))
		if t == 0 && slices.ContainsFunc(floor, func(f float64) bool { return f > 0 }) {
			t = 1.96 // too short a hold for batches of its own: the pooled noise, at 95 %
		}
		if !search.ExtendHold(specs, values, stdErrs, t, holdEnd.Sub(holdStart), step, maxHold) {
			break
		}
		i := search.WithinNoise(specs, values, stdErrs, t)
		c.printf("probe at %d users: %s = %.4g is within ±%.2g of its threshold %.4g; holding %v more",
			n, specs[i].Description, values[i], t*stdErrs[i], specs[i].Threshold, step)
		extended = true
		p, err = c.hold(ctx, step, "hold", &acc)
		problems = append(problems, p...)
		if err != nil {
			return search.Probe{}, err
		}
		holdEnd = time.Now()
	}
	problem := ""
	if len(problems) > 0 {
		problem = "agents lost during the probe: " + strings.Join(dedupe(problems), "; ")
	} else if acc.Missed > 0 {
		problem = fmt.Sprintf("%d metrics intervals were lost", acc.Missed)
	}
	if acc.Users.LastFault == "" { // users still waiting after failures before the hold
		acc.Users.LastFault = c.lastFault
	}
	userProblem := search.UserProblem(acc.Users, n, s.MaxUserFailureShare)
	if problem == "" {
		problem = userProblem
	}
	load := acc.Load(s.MaxAgentUtilization)
	verdict, margin, why := search.Judge(specs, values, load, problem)
	if problem == "" && !load.Saturated() {
		why += search.NoiseNote(specs, values, stdErrs, t, holdEnd.Sub(holdStart), extended)
	}
	count, mean := acc.Requests()
	held := holdEnd.Sub(holdStart).Seconds()
	pr := search.Probe{Users: n, Verdict: verdict, Reason: why, Values: values, Margin: margin, MarginErr: search.MarginErr(specs, values, stdErrs), MeanLatency: mean,
		Utilization: acc.Utilization, OverShare: load.OverShare, CPU: load.CPU, Lag: load.Lag, StdErrs: stdErrs, HoldSec: held,
		WithinNoise: search.WithinNoise(specs, values, stdErrs, t) >= 0,
		NotStarted:  notStarted, Restarts: acc.Users.SessionsEnded, UserFaults: acc.Users.Faults(), FaultShare: acc.Users.FaultShare(),
		Waiting:        acc.Users.Broken,
		WorkloadBroken: verdict == search.Invalid && problem == userProblem && userProblem != ""}
	if acc.Seconds > 0 {
		pr.Throughput = float64(count) / held
	}
	if actions, latency := acc.Actions(); n > 0 && held > 0 && actions > 0 {
		pr.ActionRate = float64(actions) / held / float64(n)
		pr.RateNote = search.RateNote(pr.ActionRate, controller.ExpectedActionRate(c.lt, latency))
	}
	return pr, nil
}

// MaxStartWait bounds how long a probe waits for its users to finish starting.
const MaxStartWait = time.Minute

// waitStarted holds, after users were added, until none is in its start-up sequence (logins
// and first loads are the ramp's load, not the steady state a hold measures), for at most
// MaxStartWait. The count is the agents' own (Status.UsersStarting), read at every tick;
// the settle still follows.
func (c *Coordinator) waitStarted(ctx context.Context) ([]string, error) {
	deadline := time.Now().Add(MaxStartWait)
	var problems []string
	for waited := false; ; waited = true {
		p, err := c.hold(ctx, time.Second, "ramp", nil) // a tick: the agents' status
		problems = append(problems, p...)
		if err != nil {
			return problems, err
		}
		if c.starting == 0 {
			if waited {
				c.log.Info("users started")
			}
			return problems, nil
		}
		if time.Now().After(deadline) {
			c.printf("%d users still starting after %v; measuring anyway", c.starting, MaxStartWait)
			return problems, nil
		}
	}
}

// evaluateHolding evaluates the queries at the hold's end; while they fail (error, no data,
// NaN) it holds the users where they are and tries again every second, at the time of the
// try (the window then still covers only this user count: a Prometheus that has not yet
// scraped the hold catches up), and gives up after QueryFailureTimeoutSec.
func (c *Coordinator) evaluateHolding(ctx context.Context, q monitor.Querier, at time.Time, window time.Duration) ([]float64, error) {
	deadline := time.Now().Add(time.Duration(c.cfg.MonitorConfig.QueryFailureTimeoutSec) * time.Second)
	for first := true; ; first = false {
		if !first {
			at = time.Now()
		}
		values, err := monitor.Evaluate(ctx, q, c.cfg.MonitorConfig.Queries, at, window)
		if err == nil {
			return values, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the queries kept failing for %ds (MonitorConfig.QueryFailureTimeoutSec); a failed query is never taken as healthy: %w",
				c.cfg.MonitorConfig.QueryFailureTimeoutSec, err)
		}
		c.log.Warn("query failed; holding", "err", err)
		if _, err := c.hold(ctx, time.Second, "hold", nil); err != nil {
			return nil, err
		}
	}
}

// noise measures each query's standard error over the hold [from, to] by batch means; a
// query whose sub-windows cannot be evaluated (too short for the scrapes, no requests in one)
// gets 0: not measured.
func (c *Coordinator) noise(ctx context.Context, q monitor.Querier, from, to time.Time) ([]float64, float64) {
	qs := c.cfg.MonitorConfig.Queries
	stdErrs := make([]float64, len(qs))
	k, sub := search.SubWindows(to.Sub(from), time.Duration(c.cfg.MonitorConfig.ScrapeIntervalMs)*time.Millisecond)
	if k == 0 {
		return stdErrs, 0
	}
	batches := make([][]float64, len(qs))
	for b := range k {
		vs, err := monitor.Evaluate(ctx, q, qs, from.Add(time.Duration(b+1)*sub), sub)
		if err != nil {
			c.log.Debug("noise not measured", "err", err)
			return stdErrs, 0
		}
		for i, v := range vs {
			batches[i] = append(batches[i], v)
		}
	}
	var t float64
	for i := range qs {
		if se, tt, ok := search.StdErr(batches[i]); ok {
			stdErrs[i], t = se, tt
		}
	}
	return stdErrs, t
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
