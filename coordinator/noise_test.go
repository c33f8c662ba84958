package coordinator

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/model"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/monitor"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/coordinator/search/searchtest"
	"github.com/loadtest/loadtest/loadtest"
)

// noisyQuerier answers like a target whose mean latency over a window of w has a relative
// standard deviation of sigma x sqrt(10 s / w): bursty users measured over short windows.
type noisyQuerier struct {
	mu    sync.Mutex
	m     *searchtest.Model
	sigma float64
	rng   *rand.Rand
	users func() int
}

var rangeRE = regexp.MustCompile(`\[([^\]]+)\]`)

func (q *noisyQuerier) Query(_ context.Context, expr string, _ time.Time) (float64, error) {
	if expr == monitor.LivenessQuery {
		return 1, nil
	}
	m := rangeRE.FindStringSubmatch(expr)
	if m == nil {
		return 0, errors.New("no such metric: " + expr)
	}
	w, err := model.ParseDuration(m[1])
	if err != nil {
		return 0, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	sd := q.sigma * math.Sqrt(10*float64(time.Second)/float64(w))
	return q.m.Latency(q.users()) * (1 + sd*q.rng.NormFloat64()), nil
}

// noisySearch runs the adaptive search in fake time against a noisy target and returns the
// report.
func noisySearch(t *testing.T, seed uint64, maxHoldSec int) Report {
	var r Report
	synctest.Test(t, func(t *testing.T) {
		m := &searchtest.Model{Xmax: 400, Z: 1, S: 0.01}
		c, srv := setup(t, func(c *Config) {
			c.Search.HoldSec, c.Search.MaxHoldSec = 12, maxHoldSec
		}, nil)
		c.opts.Querier = &noisyQuerier{m: m, sigma: 0.6, rng: rand.New(rand.NewPCG(seed, 1)), users: clusterUsers(srv)}
		runSearch(t, c)
		r = c.Report()
	})
	return r
}

// TestCoordinator_NoisyTarget: probes whose value is within noise of the threshold hold
// longer (and say so), probes far from it do not, and over many searches the answers are
// closer to the truth than with fixed holds.
func TestCoordinator_NoisyTarget(t *testing.T) {
	truth := (&searchtest.Model{Xmax: 400, Z: 1, S: 0.01}).Truth(0.1)
	r := noisySearch(t, 1, 0)
	var extended, plain int
	for _, p := range r.Probes {
		switch {
		case p.HoldSec > 13:
			extended++
			if !strings.Contains(p.Reason, "held") || p.HoldSec > 48.5 {
				t.Errorf("extended probe %+v: want a reason saying so and a hold <= 48 s", p)
			}
		case p.HoldSec >= 12:
			plain++
		default:
			t.Errorf("probe held %.1f s; want >= 12", p.HoldSec)
		}
		if p.Verdict != search.Invalid && (len(p.StdErrs) != 1 || p.StdErrs[0] <= 0) {
			t.Errorf("probe %+v: want its noise measured", p)
		}
	}
	if extended == 0 || plain == 0 {
		t.Fatalf("%d extended and %d plain probes; want both:\n%+v", extended, plain, r.Probes)
	}
	const runs = 20
	var errFixed, errNoise []float64
	for seed := range uint64(runs) {
		for _, c := range []struct {
			maxHold int
			errs    *[]float64
		}{{12, &errFixed}, {0, &errNoise}} {
			r := noisySearch(t, 100+seed, c.maxHold)
			*c.errs = append(*c.errs, math.Abs(float64(r.SupportedUsers)-truth)/truth)
		}
	}
	slices.Sort(errFixed)
	slices.Sort(errNoise)
	mf, mn := errFixed[runs/2], errNoise[runs/2]
	t.Logf("median error over %d searches: fixed holds %.1f%%, noise-aware holds %.1f%%; worst %.1f%% and %.1f%%",
		runs, 100*mf, 100*mn, 100*errFixed[runs-1], 100*errNoise[runs-1])
	if mn >= mf || errNoise[runs-1] >= errFixed[runs-1] {
		t.Fatalf("noise-aware holds did not help: median %.3f vs %.3f, worst %.3f vs %.3f", mn, mf, errNoise[runs-1], errFixed[runs-1])
	}
}

// startingUsers are users whose start-up sequence lasts until ready: they say so to the
// agent (its status counts them in UsersStarting), then block like quiet users.
func startingUsers(ready time.Time) func(string, agentconfig.Config, func() func()) (loadtest.NewUserFunc, error) {
	return func(_ string, _ agentconfig.Config, starting func() func()) (loadtest.NewUserFunc, error) {
		return func(int) (loadtest.User, error) {
			return loadtest.UserFunc(func(ctx context.Context) error {
				done := starting()
				// A deadline, not time.After: with -race, a bubble's channel timers that
				// many users block on crashed the runtime (SIGSEGV in timer.maybeRunChan,
				// go1.26.8, within thirty runs of this test in one process).
				wait, cancel := context.WithDeadline(ctx, ready)
				<-wait.Done()
				cancel()
				done()
				<-ctx.Done()
				return nil
			}), nil
		}, nil
	}
}

// TestCoordinator_WaitsForStartingUsers: a probe measures only once no user is starting
// (logging in, first loads), however long the ramp's logins take; the count is the agents'
// own status, not a query.
func TestCoordinator_WaitsForStartingUsers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &searchtest.Model{Xmax: 400, Z: 1, S: 0.01}
		start := time.Now()
		ready := start.Add(20 * time.Second)
		c, _ := setupUsers(t, startingUsers(ready), func(c *Config) { c.Search.TimeBudgetSec = 60 },
			func(n int) (float64, error) { return m.Latency(n), nil })
		runSearch(t, c)
		r := c.Report()
		var firstHold time.Time
		for _, s := range r.Series {
			if s.Phase == "hold" {
				firstHold = s.Time
				break
			}
		}
		// The first probe's users started at once; the wait ends at 20 s, then 1 s of settle.
		if firstHold.IsZero() || firstHold.Before(ready.Add(time.Second)) {
			t.Fatalf("first hold second at %v after the start; want after the users finished starting (20 s) and the settle", firstHold.Sub(start))
		}
		if len(r.Probes) < 2 {
			t.Fatalf("%d probes; the later ones must not wait", len(r.Probes))
		}
	})
}
