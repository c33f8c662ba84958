package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loadtest/loadtest/coordinator/monitor"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/internal/promengine"
)

// fixedStep runs the seed's loop, with one fix: a query that fails holds the loop instead
// of counting as healthy.
func (c *Coordinator) fixedStep(ctx context.Context, q monitor.Querier) error {
	fc := search.FixedStepConfig{Inc: c.cfg.NumUsersInc, Dec: c.cfg.NumUsersDec, MaxUsers: c.cfg.ClusterConfig.MaxActiveUsers,
		Rest: time.Duration(c.cfg.RestTimeSec) * time.Second, Window: time.Duration(c.cfg.Search.ConvergenceWindowSec) * time.Second,
		StopSlope: 0.2}
	start := time.Now()
	budget := start.Add(time.Duration(c.cfg.Search.TimeBudgetSec) * time.Second)
	interval := time.Duration(c.cfg.MonitorConfig.UpdateIntervalMs) * time.Millisecond
	var st search.FixedState
	total := 0
	failingSince := time.Time{}
	for {
		if _, err := c.hold(ctx, interval, "fixed-step", nil); err != nil {
			return err
		}
		now := time.Now()
		alert, err := c.alert(ctx, q, now, now.Sub(start))
		if err != nil {
			if failingSince.IsZero() {
				failingSince = now
			}
			if now.Sub(failingSince) > time.Duration(c.cfg.MonitorConfig.QueryFailureTimeoutSec)*time.Second {
				return fmt.Errorf("the queries kept failing for %ds: %w", c.cfg.MonitorConfig.QueryFailureTimeoutSec, err)
			}
			continue // hold: never act on a failed query
		}
		failingSince = time.Time{}
		var act search.FixedAction
		st, act = search.FixedStep(fc, st, now, alert, total)
		if act.Done || now.After(budget) {
			d := search.Decision{Done: true, Phase: "done", Reason: act.Reason,
				Result: search.Result{SupportedUsers: act.Supported, Knee: search.Knee(nil)}}
			if !act.Done {
				d.Reason = "no answer: the time budget ran out before the loop converged"
				d.Result.SupportedUsers, d.Result.NoAnswer = 0, true
			}
			c.decided(d, 0)
			c.printf("done: %s", d.Reason)
			return nil
		}
		if act.Delta != 0 {
			total = max(0, total+act.Delta)
			c.cl.SetUsers(ctx, total)
			c.printf("fixed-step: %s -> %d users", act.Reason, total)
			c.mu.Lock()
			c.report.Decisions = append(c.report.Decisions, TimedDecision{Time: now,
				Decision: search.Decision{Users: total, Phase: "fixed-step", Reason: act.Reason}})
			c.mu.Unlock()
		}
	}
}

// alert evaluates the queries as the seed does (their own ranges, MinIntervalSec honoured):
// true if any alert query reached its threshold. One fix: a query still inside its
// MinIntervalSec is evaluated too, and its value ignored, so that the loop never adds users
// while the monitor does not answer (the seed's loop counted a skipped query as no alert,
// and ramped blind for a minute against a Prometheus that was not there). Before then,
// "no data yet" (an empty or NaN result) is fine; any other error holds the loop.
func (c *Coordinator) alert(ctx context.Context, q monitor.Querier, now time.Time, elapsed time.Duration) (bool, error) {
	alert := false
	for i, qq := range c.cfg.MonitorConfig.Queries {
		if !qq.Alert {
			continue
		}
		early := elapsed < time.Duration(qq.MinIntervalSec)*time.Second
		v, err := monitor.QueryWithin(ctx, q, qq.Query, now)
		switch {
		case err != nil && early && (errors.Is(err, promengine.ErrEmpty) || errors.Is(err, promengine.ErrNaN)):
		case err != nil:
			return false, fmt.Errorf("MonitorConfig.Queries[%d] (%s): %w", i, qq.Description, err)
		case !early && v >= qq.Threshold:
			alert = true
		}
	}
	return alert, nil
}
