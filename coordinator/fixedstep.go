package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/loadtest/loadtest/internal/promengine"
)

// FixedState is the seed's loop's memory (reference §3.3).
type FixedState struct {
	LastAlert, LastAction time.Time
	Samples               []FixedSample
}

// FixedSample is the cluster's users at a time, after the first alert.
type FixedSample struct {
	Time  time.Time
	Users int
}

// FixedAction is what one tick of the seed's loop does: change the users by Delta, or end
// with Supported users.
type FixedAction struct {
	Delta     int
	Done      bool
	Supported int
	Reason    string
}

// FixedStepConfig is what the seed's loop reads.
type FixedStepConfig struct {
	Inc, Dec, MaxUsers int
	Rest               time.Duration
	Window             time.Duration // 30 minutes in the seed
	StopSlope          float64       // 0.2 users/s in the seed
}

// FixedStep is one tick of mattermost-load-test-ng's coordinator loop, as a pure function:
// add Inc users while nothing alerts, remove Dec on an alert, rest between, and stop once a
// Window of samples after the first alert has a least-squares slope under StopSlope; the
// answer is the mean of that window.
func FixedStep(cfg FixedStepConfig, st FixedState, now time.Time, alert bool, total int) (FixedState, FixedAction) {
	if alert {
		st.LastAlert = now
	}
	if !st.LastAlert.IsZero() {
		st.Samples = append(st.Samples, FixedSample{now, total})
		first := -1
		for i := len(st.Samples) - 1; i >= 0; i-- {
			if now.Sub(st.Samples[i].Time) >= cfg.Window {
				first = i
				break
			}
		}
		if first > 0 { // more than Window of history
			w := st.Samples[first:]
			if slope := leastSquaresSlope(w); math.Abs(slope) < cfg.StopSlope {
				sum := 0.0
				for _, s := range w {
					sum += float64(s.Users)
				}
				n := int(math.Round(sum / float64(len(w))))
				return st, FixedAction{Done: true, Supported: n,
					Reason: fmt.Sprintf("users stable over %v (slope %.3f users/s); the mean is %d", cfg.Window, slope, n)}
			}
			if len(st.Samples) >= 2*len(w) {
				st.Samples = append([]FixedSample(nil), w...)
			}
		}
	}
	mayAct := st.LastAlert.IsZero() || st.LastAction.IsZero() || now.After(st.LastAction.Add(cfg.Rest))
	switch {
	case !mayAct:
		return st, FixedAction{Reason: "waiting for metrics to stabilize"}
	case alert:
		st.LastAction = now
		return st, FixedAction{Delta: -cfg.Dec, Reason: "alert: removing users"}
	case (st.LastAlert.IsZero() || now.After(st.LastAlert.Add(cfg.Rest))) && total < cfg.MaxUsers:
		st.LastAction = now
		return st, FixedAction{Delta: min(cfg.Inc, cfg.MaxUsers-total), Reason: "no alert: adding users"}
	}
	return st, FixedAction{Reason: "holding"}
}

// leastSquaresSlope is the users' least-squares slope over the window, in users per second
// (0 with fewer than two samples, or all at one time).
func leastSquaresSlope(w []FixedSample) float64 {
	if len(w) < 2 {
		return 0
	}
	xs, ys := make([]float64, len(w)), make([]float64, len(w))
	for i, s := range w {
		xs[i], ys[i] = s.Time.Sub(w[0].Time).Seconds(), float64(s.Users)
	}
	if _, slope := stat.LinearRegression(xs, ys, nil, false); !math.IsNaN(slope) && !math.IsInf(slope, 0) {
		return slope
	}
	return 0
}

// fixedStep runs the seed's loop, with one fix: a query that fails holds the loop instead
// of counting as healthy.
func (c *Coordinator) fixedStep(ctx context.Context, q Querier) error {
	fc := FixedStepConfig{Inc: c.cfg.NumUsersInc, Dec: c.cfg.NumUsersDec, MaxUsers: c.cfg.ClusterConfig.MaxActiveUsers,
		Rest: time.Duration(c.cfg.RestTimeSec) * time.Second, Window: time.Duration(c.cfg.Search.ConvergenceWindowSec) * time.Second,
		StopSlope: 0.2}
	start := time.Now()
	budget := start.Add(time.Duration(c.cfg.Search.TimeBudgetSec) * time.Second)
	interval := time.Duration(c.cfg.MonitorConfig.UpdateIntervalMs) * time.Millisecond
	var st FixedState
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
		var act FixedAction
		st, act = FixedStep(fc, st, now, alert, total)
		if act.Done || now.After(budget) {
			d := Decision{Done: true, Phase: "done", Reason: act.Reason,
				Result: Result{SupportedUsers: act.Supported, Knee: Knee(nil)}}
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
			c.cl.setUsers(ctx, total)
			c.printf("fixed-step: %s -> %d users", act.Reason, total)
			c.mu.Lock()
			c.report.Decisions = append(c.report.Decisions, TimedDecision{Time: now,
				Decision: Decision{Users: total, Phase: "fixed-step", Reason: act.Reason}})
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
func (c *Coordinator) alert(ctx context.Context, q Querier, now time.Time, elapsed time.Duration) (bool, error) {
	alert := false
	for i, qq := range c.cfg.MonitorConfig.Queries {
		if !qq.Alert {
			continue
		}
		early := elapsed < time.Duration(qq.MinIntervalSec)*time.Second
		v, err := queryWithin(ctx, q, qq.Query, now)
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
