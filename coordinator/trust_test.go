package coordinator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/monitor"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/internal/promengine"
	"github.com/loadtest/loadtest/loadtest"
	"github.com/loadtest/loadtest/mattermost"
)

// failingAbove makes users whose sessions fail at once, with err, when their id is above n
// (the others block until stopped): a workload that works for n users per agent only.
func failingAbove(n int, err error) func(string, agentconfig.Config, func() func()) (loadtest.NewUserFunc, error) {
	return func(string, agentconfig.Config, func() func()) (loadtest.NewUserFunc, error) {
		return func(id int) (loadtest.User, error) {
			return loadtest.UserFunc(func(ctx context.Context) error {
				if id > n {
					return err
				}
				<-ctx.Done()
				return nil
			}), nil
		}, nil
	}
}

// setupUsers is setup with the agents' users made by newUser.
func setupUsers(t *testing.T, newUser func(string, agentconfig.Config, func() func()) (loadtest.NewUserFunc, error), mutate func(*Config), value func(int) (float64, error)) (*Coordinator, *agent.Server) {
	t.Helper()
	srv := agent.NewServer(agent.ServerOptions{NewUser: newUser})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	cfg := DefaultConfig()
	cfg.ClusterConfig.Agents = []AgentConfig{{Id: "a1"}, {Id: "a2"}}
	cfg.ClusterConfig.MaxActiveUsers = 2000
	cfg.Search.HoldSec, cfg.Search.SettleSec, cfg.Search.RampRate = 5, 1, 1000
	cfg.MonitorConfig.Queries = cfg.MonitorConfig.Queries[:1]
	if mutate != nil {
		mutate(&cfg)
	}
	lt := agentconfig.DefaultConfig()
	lt.UsersConfiguration.MaxActiveUsers = 1000
	c, err := New(&cfg, lt, Options{Agents: []cluster.Agent{srv.LoadTest("a1"), srv.LoadTest("a2")},
		Querier: &fakeQuerier{value: value, users: clusterUsers(srv)}})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// TestCoordinator_BrokenWorkload: users that fail on their own side (a 403: the workload
// asks what it may not) make probes invalid, never passed or failed, and two in a row end
// the search without an answer; what passed before stays a lower bound, never a bare
// number. The target itself is quiet: its latency passes at every count.
func TestCoordinator_BrokenWorkload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		forbidden := &mattermost.Error{Method: "POST", Route: "/channels", AppError: mattermost.AppError{StatusCode: 403, ID: "api.context.permissions.app_error", Message: "no permission"}}
		c, _ := setupUsers(t, failingAbove(40, forbidden), nil, func(int) (float64, error) { return 0.01, nil }) // 80 users work
		runSearch(t, c)
		r := c.Report()
		if r.Outcome != NoAnswer || !r.WorkloadBroken || r.SupportedUsers != 50 || !r.AtLeast && r.Bracket[1] != 0 {
			t.Fatalf("outcome %q, broken %v, %d users, bracket %v; want no answer, broken, >= 50 (the pass)", r.Outcome, r.WorkloadBroken, r.SupportedUsers, r.Bracket)
		}
		if got, want := r.Answer(), "supported users: >= 50 (no answer: the workload broke)"; got != want {
			t.Errorf("answer %q; want %q", got, want)
		}
		var broken int
		for _, p := range r.Probes {
			switch {
			case p.Users <= 80 && (p.Verdict != search.Pass || p.UserFaults != 0):
				t.Errorf("probe at %d: %s with %d user faults; want a clean pass", p.Users, p.Verdict, p.UserFaults)
			case p.Users > 80:
				if p.Verdict != search.Invalid || !p.WorkloadBroken || (p.UserFaults == 0 && p.Waiting == 0) ||
					!strings.Contains(p.Reason, "the workload, not the target, is failing") || !strings.Contains(p.Reason, "no permission") {
					t.Errorf("probe at %d: %+v; want invalid, the workload broken, its faults counted and named", p.Users, p)
				}
				if broken == 0 && (p.UserFaults == 0 || p.Restarts == 0 || p.FaultShare < 0.5) {
					t.Errorf("first broken probe at %d: %d faults, %d restarts, share %v; want the failed sessions counted", p.Users, p.UserFaults, p.Restarts, p.FaultShare)
				}
				broken++
			}
		}
		if broken != search.BrokenProbes || !strings.Contains(r.Reason, "no answer: the workload broke at 100 users") {
			t.Errorf("%d broken probes, reason %q; want %d and a reason naming the count", broken, r.Reason, search.BrokenProbes)
		}
	})
}

// TestCoordinator_TargetFaultsAreNotTheWorkloads: sessions that fail with the target's
// errors (503, refused connections) are restarts, not user-side faults: the probe stays
// valid and the queries judge the target.
func TestCoordinator_TargetFaultsAreNotTheWorkloads(t *testing.T) {
	for _, err := range []error{
		&mattermost.Error{AppError: mattermost.AppError{StatusCode: 503, Message: "busy"}},
		&mattermost.Error{AppError: mattermost.AppError{StatusCode: 429, Message: "too many requests"}},
		errors.Join(errors.New("dial"), syscall.ECONNREFUSED),
	} {
		synctest.Test(t, func(t *testing.T) {
			c, _ := setupUsers(t, failingAbove(40, err), func(c *Config) { c.Search.TimeBudgetSec = 30 },
				func(int) (float64, error) { return 0.01, nil })
			runSearch(t, c)
			r := c.Report()
			for _, p := range r.Probes {
				if p.WorkloadBroken || p.UserFaults != 0 {
					t.Errorf("%v: probe at %d users broken %v with %d user faults; the target's failures are not the workload's", err, p.Users, p.WorkloadBroken, p.UserFaults)
				}
			}
		})
	}
}

// TestCoordinator_Interrupted: a search stopped midway says what it knew, a lower bound,
// and never a bare number it did not find.
func TestCoordinator_Interrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := setup(t, nil, func(n int) (float64, error) { return 0.01, nil })
		wait := startSearch(t, c)
		for { // stop during the third probe, after two passes
			time.Sleep(time.Second)
			if r := c.Report(); len(r.Probes) == 2 {
				break
			}
		}
		time.Sleep(3 * time.Second)
		_ = c.Stop()
		wait()
		r := c.Report()
		if r.Outcome != Interrupted || r.SupportedUsers != 100 {
			t.Fatalf("outcome %q, %d users; want interrupted with the best pass, 100", r.Outcome, r.SupportedUsers)
		}
		if got, want := r.Answer(), "supported users: >= 100 (interrupted)"; got != want {
			t.Errorf("answer %q; want %q", got, want)
		}
		if r.Reason != "stopped before an answer" {
			t.Errorf("reason %q; want it plain, not ending in a colon", r.Reason)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		c, _ := setup(t, nil, func(n int) (float64, error) { return 0.01, nil })
		wait := startSearch(t, c)
		time.Sleep(2 * time.Second)
		_ = c.Stop()
		wait()
		if got, want := c.Report().Answer(), "supported users: unknown (interrupted)"; got != want {
			t.Errorf("stopped before any probe: answer %q; want %q", got, want)
		}
	})
}

// TestCoordinator_MonitorPreflight: a monitor that does not answer stops the search before
// any user starts, with one line that names it.
func TestCoordinator_MonitorPreflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, srv := setup(t, nil, nil)
		var started bool
		c.opts.Querier = querierFunc(func(string) (float64, error) {
			started = started || clusterUsers(srv)() > 0
			return 0, errors.New(`Post "http://127.0.0.1:1/api/v1/query": dial tcp 127.0.0.1:1: connect: connection refused`)
		})
		runSearch(t, c)
		r := c.Report()
		if r.Outcome != NoAnswer || !strings.Contains(r.Error, "preflight: the monitor") || !strings.Contains(r.Error, "connection refused") || started || len(r.Series) != 0 {
			t.Fatalf("outcome %q, error %q, users started %v, %d seconds recorded; want no answer before any load", r.Outcome, r.Error, started, len(r.Series))
		}
		if got := r.Answer(); got != "supported users: unknown (no answer: the search failed)" {
			t.Errorf("answer %q", got)
		}
	})
}

// TestFixedStep_NeverBlind: the seed's loop adds no user while its queries cannot be
// evaluated, even inside their MinIntervalSec, where the seed's loop counted a skipped
// query as "no alert" and ramped for a minute against a Prometheus that was not there; "no
// data yet" inside MinIntervalSec is fine, and the loop ramps.
func TestFixedStep_NeverBlind(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	for _, tc := range []struct {
		name string
		err  error
		ramp bool
	}{{"monitor down", refused, false}, {"no data yet", promengine.ErrEmpty, true}} {
		synctest.Test(t, func(t *testing.T) {
			c, srv := setup(t, func(c *Config) {
				c.Search.Strategy = "fixed-step"
				c.MonitorConfig.QueryFailureTimeoutSec = 20
				c.MonitorConfig.Queries[0].MinIntervalSec = 60
				c.Search.TimeBudgetSec = 30
			}, nil)
			most := 0
			c.opts.Querier = querierFunc(func(q string) (float64, error) {
				most = max(most, clusterUsers(srv)())
				if q == monitor.LivenessQuery {
					return 1, nil
				}
				return 0, tc.err
			})
			runSearch(t, c)
			r := c.Report()
			if tc.ramp != (most > 0) {
				t.Fatalf("%s: at most %d users; ramp %v", tc.name, most, tc.ramp)
			}
			if !tc.ramp && (r.Outcome != NoAnswer || !strings.Contains(r.Error, "kept failing for 20s")) {
				t.Errorf("%s: outcome %q, error %q; want no answer after QueryFailureTimeoutSec", tc.name, r.Outcome, r.Error)
			}
		})
	}
}

type querierFunc func(q string) (float64, error)

func (f querierFunc) Query(_ context.Context, q string, _ time.Time) (float64, error) { return f(q) }

// TestReport_Population: report.html shows what a probe's users did besides their steady
// work, and marks a probe invalid because of the workload.
func TestReport_Population(t *testing.T) {
	r := Report{Outcome: NoAnswer, WorkloadBroken: true, Probes: []search.Probe{
		{Users: 50, Verdict: search.Pass, NotStarted: 3, Restarts: 2, RateNote: "each user made 0.154 actions/s"},
		{Users: 100, Verdict: search.Invalid, WorkloadBroken: true, Reason: "the workload, not the target, is failing"},
	}}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 users still starting when the hold began; 2 sessions restarted; warning: each user made 0.154 actions/s",
		"invalid (workload)", "supported users: unknown (no answer: the workload broke)"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

// TestCoordinator_MonitorHangs: a monitor that answers the preflight and then never answers
// (each query cut at its 30 s timeout) judges no probe, and the search stops after
// QueryFailureTimeoutSec without an answer.
func TestCoordinator_MonitorHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, srv := setup(t, func(c *Config) { c.MonitorConfig.QueryFailureTimeoutSec = 90 }, nil)
		c.opts.Querier = ctxQuerier(func(ctx context.Context, q string) (float64, error) {
			if q == monitor.LivenessQuery {
				return 1, nil
			}
			<-ctx.Done()
			return 0, ctx.Err()
		})
		start := time.Now()
		runSearch(t, c)
		r := c.Report()
		if len(r.Probes) != 0 || r.Outcome != NoAnswer || !strings.Contains(r.Error, "kept failing for 90s") || !strings.Contains(r.Error, "deadline exceeded") {
			t.Fatalf("probes %v, outcome %q, error %q; want none judged and no answer", r.Probes, r.Outcome, r.Error)
		}
		if took := time.Since(start); took > 3*time.Minute {
			t.Errorf("it took %v to give up; want about QueryFailureTimeoutSec plus a query timeout", took)
		}
		if len(srv.List()) != 0 {
			t.Errorf("load tests left: %v", srv.List())
		}
	})
}

type ctxQuerier func(ctx context.Context, q string) (float64, error)

func (f ctxQuerier) Query(ctx context.Context, q string, _ time.Time) (float64, error) {
	return f(ctx, q)
}
