package search

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/stat"
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
