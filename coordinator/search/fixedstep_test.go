package search

import (
	"math"
	"testing"
	"time"

	"github.com/loadtest/loadtest/coordinator/search/searchtest"
)

// TestFixedStep replays the seed's loop against a modelled target: it adds NumUsersInc a
// tick, removes on alerts, and answers the mean of a stable window.
func TestFixedStep(t *testing.T) {
	m := &searchtest.Model{Xmax: 400, Z: 1, S: 0.01}
	cfg := FixedStepConfig{Inc: 8, Dec: 8, MaxUsers: 5000, Rest: 2 * time.Second, Window: 5 * time.Minute, StopSlope: 0.2}
	var st FixedState
	now := time.Unix(0, 0)
	users := 0
	for tick := range 100000 {
		now = now.Add(time.Second)
		var act FixedAction
		st, act = FixedStep(cfg, st, now, m.Latency(users) >= 0.1, users)
		if act.Done {
			truth := m.Truth(0.1)
			if float64(act.Supported) < truth*0.9 || float64(act.Supported) > truth*1.1 {
				t.Fatalf("fixed-step answered %d; truth %.0f", act.Supported, truth)
			}
			if tick < 300 {
				t.Fatalf("it stopped after %d ticks, before a whole window after the first alert", tick)
			}
			return
		}
		users += act.Delta
	}
	t.Fatal("the fixed-step loop never converged")
}

// TestLeastSquaresSlope: the slope of users over time in users per second, and 0 where there
// is none (one sample, or every sample at one time).
func TestLeastSquaresSlope(t *testing.T) {
	t0 := time.Unix(0, 0)
	var line []FixedSample
	for i, noise := range []int{0, 1, -1, 0, 1, -1, 0} { // 100 + 0.5 users/s, with zero-sum noise
		line = append(line, FixedSample{Time: t0.Add(time.Duration(10*i) * time.Second), Users: 100 + 5*i + noise})
	}
	if got := leastSquaresSlope(line); math.Abs(got-0.5) > 0.02 {
		t.Errorf("slope %v; want 0.5 users/s", got)
	}
	if got := leastSquaresSlope(line[:1]); got != 0 {
		t.Errorf("one sample: slope %v; want 0", got)
	}
	same := []FixedSample{{Time: t0, Users: 10}, {Time: t0, Users: 20}}
	if got := leastSquaresSlope(same); got != 0 {
		t.Errorf("samples at one time: slope %v; want 0", got)
	}
}
