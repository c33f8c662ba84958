package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/monitor"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/coordinator/search/searchtest"
	"github.com/loadtest/loadtest/loadtest"
)

// fakeQuerier answers every query from a function of the cluster's users.
type fakeQuerier struct {
	users func() int
	value func(users int) (float64, error)
	calls atomic.Int64
}

func (f *fakeQuerier) Query(_ context.Context, q string, _ time.Time) (float64, error) {
	f.calls.Add(1)
	if q == monitor.LivenessQuery {
		return 1, nil
	}
	if !strings.Contains(q, "[") && !strings.Contains(q, "vector") {
		return 0, errors.New("unexpected query " + q)
	}
	return f.value(f.users())
}

func blockingUsers(string, agentconfig.Config, func() func()) (loadtest.NewUserFunc, error) {
	return func(int) (loadtest.User, error) {
		return loadtest.UserFunc(func(ctx context.Context) error { <-ctx.Done(); return nil }), nil
	}, nil
}

// clusterUsers returns a function counting the active users on srv's load tests.
func clusterUsers(srv *agent.Server) func() int {
	return func() int {
		n := 0
		for _, st := range srv.List() {
			n += st.ActiveUsers
		}
		return n
	}
}

// runSearch runs c to its end.
func runSearch(t *testing.T, c *Coordinator) {
	t.Helper()
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// startSearch runs c on a goroutine of its own and returns a function that waits for it to
// end (after Stop, or the search's own end) and fails the test if Run failed.
func startSearch(t *testing.T, c *Coordinator) (wait func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	return func() {
		t.Helper()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// setup returns a coordinator driving two in-process agents with blocking users, whose
// queries answer value(users).
func setup(t *testing.T, mutate func(*Config), value func(int) (float64, error)) (*Coordinator, *agent.Server) {
	t.Helper()
	return setupUsers(t, blockingUsers, mutate, value)
}

// TestCoordinator_Search runs the adaptive search in fake time against a target whose
// latency is a function of the users, split over two agents.
func TestCoordinator_Search(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &searchtest.Model{Xmax: 400, Z: 1, S: 0.01}
		c, srv := setup(t, nil, func(n int) (float64, error) { return m.Latency(n), nil })
		wait := startSearch(t, c)
		synctest.Wait()
		if err := c.Run(context.Background()); !errors.Is(err, ErrNotStopped) {
			t.Fatalf("second Run: %v; want ErrNotStopped", err)
		}
		wait()
		st, _ := c.Status()
		r := c.Report()
		truth := m.Truth(0.1)
		if st.State != Done || r.Error != "" || float64(r.SupportedUsers) < truth*0.97 || float64(r.SupportedUsers) > truth {
			t.Fatalf("state %s, %d users (truth %.0f), error %q, reason %q", st.State, r.SupportedUsers, truth, r.Error, r.Reason)
		}
		if st.SupportedUsers != r.SupportedUsers || st.StopTime.IsZero() {
			t.Fatalf("status %+v", st)
		}
		// Both agents carried users during the probes, and their load tests are gone now.
		if len(srv.List()) != 0 {
			t.Fatalf("load tests left on the agents: %v", srv.List())
		}
		if err := c.Run(context.Background()); !errors.Is(err, ErrAlreadyDone) {
			t.Fatalf("Run after done: %v; want ErrAlreadyDone", err)
		}
		if err := c.Stop(); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("Stop after done: %v; want ErrNotRunning", err)
		}
		b, _ := json.Marshal(st)
		if !strings.Contains(string(b), `"State":"done"`) {
			t.Fatalf("status JSON %s", b)
		}
		checkCollector(t, c, r)
	})
}

// checkCollector compares the coordinator's exposition with its report: the answer, the
// probes by verdict, the last probe's query values beside their thresholds, the agents.
func checkCollector(t *testing.T, c *Coordinator, r Report) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collector())
	if n, err := testutil.GatherAndCount(reg); err != nil || n == 0 {
		t.Fatalf("gather: %d metrics, %v", n, err)
	}
	pass := 0
	for _, p := range r.Probes {
		if p.Verdict == search.Pass {
			pass++
		}
	}
	last := r.Probes[len(r.Probes)-1]
	q := c.cfg.MonitorConfig.Queries[0]
	want := fmt.Sprintf(`
# HELP loadtest_coordinator_probes_total Probes judged, by verdict (pass, fail, invalid).
# TYPE loadtest_coordinator_probes_total counter
loadtest_coordinator_probes_total{verdict="fail"} %d
loadtest_coordinator_probes_total{verdict="invalid"} 0
loadtest_coordinator_probes_total{verdict="pass"} %d
# HELP loadtest_coordinator_supported_users The answer so far: the most users a probe passed with (0 before one passed).
# TYPE loadtest_coordinator_supported_users gauge
loadtest_coordinator_supported_users %d
`, len(r.Probes)-pass, pass, r.Bracket[0])
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "loadtest_coordinator_probes_total", "loadtest_coordinator_supported_users"); err != nil {
		t.Error(err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := m.GetLabel()
			switch mf.GetName() {
			case "loadtest_coordinator_query_value":
				if l[0].GetValue() == q.Description && m.GetGauge().GetValue() != last.Values[0] {
					t.Errorf("query value %v; want the last probe's %v", m.GetGauge().GetValue(), last.Values[0])
				}
			case "loadtest_coordinator_query_threshold":
				if l[0].GetValue() == q.Description && m.GetGauge().GetValue() != q.Threshold {
					t.Errorf("threshold %v; want %v", m.GetGauge().GetValue(), q.Threshold)
				}
			case "loadtest_coordinator_agent_up":
				if m.GetGauge().GetValue() != 1 {
					t.Errorf("agent %s down", l[0].GetValue())
				}
			}
		}
	}
}

// TestCoordinator_FailedQueryIsNeverHealthy: queries that fail hold the search, which then
// aborts with a clear error instead of adding users.
func TestCoordinator_FailedQueryIsNeverHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := setup(t, func(c *Config) { c.MonitorConfig.QueryFailureTimeoutSec = 30 },
			func(int) (float64, error) { return 0, errors.New("the query returned no data") })
		runSearch(t, c)
		r := c.Report()
		if !strings.Contains(r.Error, "kept failing for 30s") || !strings.Contains(r.Error, "no data") {
			t.Fatalf("error %q", r.Error)
		}
		if len(r.Probes) != 0 || r.SupportedUsers != 0 {
			t.Fatalf("a failed query produced a verdict: %+v", r.Probes)
		}
	})
}

// TestCoordinator_TimeBudget: a search that cannot finish reports its best bracket when the
// budget ends.
func TestCoordinator_TimeBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &searchtest.Model{Xmax: 400, Z: 1, S: 0.01}
		c, _ := setup(t, func(c *Config) { c.Search.TimeBudgetSec = 40 }, func(n int) (float64, error) { return m.Latency(n), nil })
		runSearch(t, c)
		r := c.Report()
		if !strings.Contains(r.Reason, "time budget") || r.SupportedUsers == 0 {
			t.Fatalf("reason %q, %d users", r.Reason, r.SupportedUsers)
		}
	})
}

// TestCoordinator_Stop stops a search midway: the agents' users are gone, and the status is
// final.
func TestCoordinator_Stop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, srv := setup(t, nil, func(n int) (float64, error) { return 0.01, nil })
		if err := c.Stop(); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("Stop before Run: %v", err)
		}
		wait := startSearch(t, c)
		time.Sleep(20 * time.Second)
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		wait()
		if st, _ := c.Status(); st.State != Done || len(srv.List()) != 0 {
			t.Fatalf("state %s, load tests %v", st.State, srv.List())
		}
	})
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClusterConfig.Agents = append(cfg.ClusterConfig.Agents, AgentConfig{Id: "lt0", ApiURL: "ftp://x"})
	cfg.MonitorConfig.Queries[0].Query = "sum(rate(x[1m]"
	cfg.Search.Strategy = "guess"
	cfg.NumUsersInc = 0
	cfg.Search.StaleSec = -2
	err := cfg.Validate()
	for _, want := range []string{"ClusterConfig.Agents[1].Id", "ClusterConfig.Agents[1].ApiURL", "MonitorConfig.Queries[0].Query",
		"Search.Strategy", "NumUsersInc", "Search.StaleSec: must be -1 (never), 0 (3 x MaxHoldSec) or > 0, got -2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v; want it to name %s", err, want)
		}
	}
}

// TestSearchSettings_Stale: StaleSec 0 is three of the longest holds, -1 turns the rule off.
func TestSearchSettings_Stale(t *testing.T) {
	for _, tc := range []struct{ hold, maxHold, stale, want int }{
		{10, 0, 0, 120}, {10, 80, 0, 240}, {10, 80, 100, 100}, {10, 80, -1, 0},
	} {
		s := SearchSettings{HoldSec: tc.hold, MaxHoldSec: tc.maxHold, StaleSec: tc.stale}
		if got := s.Stale(); got != tc.want {
			t.Errorf("%+v: Stale() = %d; want %d", s, got, tc.want)
		}
	}
}
