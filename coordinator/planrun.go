package coordinator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/threshold"
	"github.com/loadtest/loadtest/internal/usermetrics"
)

// NewPlan builds a coordinator that runs plan p on the agents (p.Agents, else cfg's
// ClusterConfig.Agents, else opts.Agents), instead of searching. cfg may be nil (defaults).
func NewPlan(cfg *Config, p *plan.Plan, opts Options) (*Coordinator, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	c := DefaultConfig()
	if cfg != nil {
		c = *cfg
	}
	if len(p.Agents) > 0 {
		c.ClusterConfig.Agents = p.Agents
	}
	n := len(c.ClusterConfig.Agents)
	if opts.Agents != nil {
		n = len(opts.Agents)
	}
	lt := p.AgentConfig(n)
	c.ClusterConfig.MaxActiveUsers = max(p.Users, 1)
	co, err := New(&c, lt, opts)
	if err != nil {
		return nil, err
	}
	co.job = &planJob{p: p}
	co.report.Strategy = "plan"
	redacted := *p
	redacted.Scripts = nil
	for _, s := range p.Scripts {
		redacted.Scripts = append(redacted.Scripts, s.Redacted())
	}
	co.report.Plan = &redacted
	co.report.LatencyNote = LatencyNote
	return co, nil
}

// ErrBadUsers is a user count a plan cannot take; ErrNotPlan says a search was asked to
// change its users (it decides them itself).
var (
	ErrBadUsers = errors.New("bad user count")
	ErrNotPlan  = errors.New("only a plan's users can be changed; a search decides its own")
)

// SetUsers changes a running plan's users: they are n from the next second through the
// ramp-up and the sustain, and the wind-down steps down from n.
func (c *Coordinator) SetUsers(n int) error {
	if _, ok := c.job.(*planJob); !ok {
		return ErrNotPlan
	}
	if n < 0 || n > c.maxUsers {
		return fmt.Errorf("%w: must be from 0 to %d (the agents' MaxActiveUsers, summed)", ErrBadUsers, c.maxUsers)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status.State != Running {
		return ErrNotRunning
	}
	c.setUsers = n
	c.notifyLocked()
	return nil
}

// LatencyNote says what the plan's latencies measure.
const LatencyNote = `Request latencies ("route ...") are measured from each request's actual start. For scripts with a pace, "action script <name>" rows are iterations from their actual start and "action script <name> (intended)" rows from their intended start on the fixed schedule (coordinated omission corrected, as wrk2 does).`

// planJob runs a plan: users by the clock (plan.UsersAt), periods to the writers, and the
// totals checked against the plan's thresholds at the end.
type planJob struct{ p *plan.Plan }

func (j *planJob) run(ctx context.Context, c *Coordinator) error {
	if err := c.cl.Preflight(ctx); err != nil {
		return err
	}
	shutdown, err := c.startAgents(ctx)
	if err != nil {
		return err
	}
	defer shutdown()
	return j.follow(ctx, c)
}

func (j *planJob) finish(c *Coordinator, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		c.report.Error, c.status.Message = err.Error(), err.Error()
	}
}

// follow follows the plan second by second, reports each period to the writers, and ends
// with the wind-down (or early, when ctx ends: the last period is still written).
func (j *planJob) follow(ctx context.Context, c *Coordinator) error {
	p := j.p
	writers := c.opts.Writers
	c.printf("plan %s: %d users (ramp-up %ds in %s, sustain %ds, wind-down %ds) on %d agents, %d scripts",
		p.Name, p.Users, p.RampUpSec, stepsText(p), p.SustainSec, p.WindDownSec, len(c.cl.Agents()), len(p.Scripts))
	start := time.Now()
	period := time.Duration(p.ReportEverySec) * time.Second
	acc, pStart := cluster.Window{}, start
	var total cluster.Window // the whole run, for the totals and the thresholds
	current, phase := -1, ""
	emit := func(final bool) {
		total.Add(acc)
		per := j.period(c, acc, pStart, time.Now(), phase, final)
		c.mu.Lock()
		c.report.Periods = append(c.report.Periods, per)
		c.mu.Unlock()
		if per.Saturated {
			c.printf("WARNING: agents %s above utilization %.2f in this period: its latencies may measure the generator, not the target",
				strings.Join(per.SaturatedAgents, ", "), p.MaxAgentUtilization)
		}
		n, failed := requestsOf(per)
		c.printf("period %s-%s: %d users, %d requests, %d errors, %s", per.Start.Format("15:04:05"), per.End.Format("15:04:05"),
			per.Users, n, failed, latencyText(per))
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, w := range writers {
			if err := w.Write(wctx, per); err != nil {
				c.printf("writer: %v", err)
				c.log.Warn("write a period", "err", err)
			}
		}
		acc, pStart = cluster.Window{}, time.Now()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		elapsed := time.Since(start)
		n, ph, done := plan.UsersAt(p, elapsed)
		phase = ph
		if done {
			break
		}
		c.mu.Lock()
		set := c.setUsers
		c.mu.Unlock()
		reason := fmt.Sprintf("%s: %d users", ph, n)
		if set >= 0 { // changed during the run: held through the sustain, wound down from there
			n = set
			if ph == "wind-down" {
				q := *p
				q.Users = set
				n, _, _ = plan.UsersAt(&q, elapsed)
			}
			reason = fmt.Sprintf("%s: %d users (set during the run)", ph, n)
		}
		c.syncJoined(ctx)
		if c.cl.TakeReshare() { // an agent came or went: share the users again, so the count holds
			current = -1
		}
		if n != current {
			if problems := c.cl.SetUsers(ctx, n); len(problems) > 0 {
				c.printf("agents: %s", strings.Join(problems, "; "))
			}
			current = n
			c.mu.Lock()
			c.report.Decisions = append(c.report.Decisions, TimedDecision{Time: time.Now(), Decision: search.Decision{Phase: ph, Users: n,
				Reason: reason}})
			c.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			c.printf("plan interrupted in %s; writing the last period", ph)
			c.finalPeriod(emit, &acc)
			j.totals(c, total)
			return ctx.Err()
		case <-t.C:
		}
		if problems := c.tick(ctx, ph, &acc); len(problems) > 0 {
			c.printf("agents: %s", strings.Join(problems, "; "))
		}
		if time.Since(pStart) >= period {
			emit(false)
		}
	}
	c.finalPeriod(emit, &acc)
	j.totals(c, total)
	c.mu.Lock()
	c.report.Reason = fmt.Sprintf("plan %s completed: %d users sustained %ds", p.Name, p.Users, p.SustainSec)
	c.mu.Unlock()
	return nil
}

// totals puts the whole run's metrics in the report and checks the plan's thresholds on
// them.
func (j *planJob) totals(c *Coordinator, w cluster.Window) {
	ts, _ := threshold.ParseAll("Thresholds", j.p.Thresholds) // Validate parsed them
	c.mu.Lock()
	defer c.mu.Unlock()
	c.report.Totals = []histogram.Summary{}
	if w.Hist != nil {
		c.report.Totals = w.Hist.Summaries()
	}
	if len(ts) > 0 {
		c.report.Checks = threshold.Check(ts, w.Hist)
	}
}

// finalPeriod waits for the agents' last intervals (the users are leaving; their last
// requests finish) and writes the last period.
func (c *Coordinator) finalPeriod(emit func(bool), acc *cluster.Window) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.cl.SetUsers(ctx, 0)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range 2 { // an agent closes an interval a second; two ticks take in the last one
		select {
		case <-ctx.Done():
		case <-t.C:
			c.tick(ctx, "done", acc)
		}
	}
	emit(true)
}

// period summarizes a window as a Period.
func (j *planJob) period(c *Coordinator, w cluster.Window, start, end time.Time, phase string, final bool) plan.Period {
	per := plan.Period{Start: start, End: end, Phase: phase, Utilization: w.Utilization, Final: final,
		Metrics: []histogram.Summary{}, Counters: w.Counters}
	if w.Hist != nil {
		per.Metrics = w.Hist.Summaries()
	}
	c.mu.Lock()
	per.Users = c.status.ActiveUsers
	c.mu.Unlock()
	for _, l := range w.Loads(j.p.MaxAgentUtilization) {
		if l.Saturated() {
			per.SaturatedAgents = append(per.SaturatedAgents, l.Agent)
		}
	}
	per.Saturated = len(per.SaturatedAgents) > 0
	return per
}

func stepsText(p *plan.Plan) string {
	if p.RampSteps == 0 {
		return "steps of 1s"
	}
	return fmt.Sprintf("%d steps", p.RampSteps)
}

// requestsOf returns a period's requests and failed requests.
func requestsOf(p plan.Period) (n, failed int64) {
	for _, m := range p.Metrics {
		if strings.HasPrefix(m.Key, usermetrics.RoutePrefix) {
			n += m.Count
			failed += m.Errors
		}
	}
	return n, failed
}

// latencyText is the period's headline latency: all requests' p50 and p99 would need the
// merged histogram; the busiest route's stand in.
func latencyText(p plan.Period) string {
	var best histogram.Summary
	for _, m := range p.Metrics {
		if strings.HasPrefix(m.Key, usermetrics.RoutePrefix) && m.Count > best.Count {
			best = m
		}
	}
	if best.Count == 0 {
		return "no requests"
	}
	return fmt.Sprintf("busiest %s: p50 %v p99 %v", strings.TrimPrefix(best.Key, usermetrics.RoutePrefix),
		best.P50.Round(10*time.Microsecond), best.P99.Round(10*time.Microsecond))
}
