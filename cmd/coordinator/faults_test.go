package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/monitor"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/testtools"
)

// faulty serves h until told to fail: "drop" closes every connection without an answer (a
// target that is down), "hang" answers nothing until the client gives up.
type faulty struct {
	h       http.Handler
	mode    atomic.Value // string: "", "drop" or "hang"
	hits    atomic.Int64
	release chan struct{} // closed when the test ends: hanging requests return
}

func (f *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	switch m, _ := f.mode.Load().(string); m {
	case "drop":
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	case "hang": // fasthttp keeps a timed-out request's connection open, so also end at release
		select {
		case <-r.Context().Done():
		case <-f.release:
		}
		return
	}
	f.h.ServeHTTP(w, r)
}

// runCoordinator runs the coordinator command over one in-process agent (lt0) of noop
// users against url, with cfg (then mutateCfg, if set: the agent is in it by then), the
// agent config (mutateLT, if set) and extra arguments, and returns its output, its error
// output and its error. No load test may be left on the agent.
func runCoordinator(t *testing.T, cfg coordinator.Config, url string, mutateCfg func(*coordinator.Config), mutateLT func(*agentconfig.Config), extra ...string) (string, string, error) {
	t.Helper()
	srv := agent.NewServer(agent.ServerOptions{})
	hs := httptest.NewServer(api.Handler(srv, api.HandlerOptions{}))
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Shutdown(context.Background())
	})
	dir := t.TempDir()
	cfg.ClusterConfig.Agents = []coordinator.AgentConfig{{Id: "lt0", ApiURL: hs.URL}}
	cfg.LogSettings.EnableConsole = false
	if mutateCfg != nil {
		mutateCfg(&cfg)
	}
	lt := agentconfig.DefaultConfig()
	lt.ConnectionConfiguration.ServerURL = url
	lt.UserControllerConfiguration.Type = "noop"
	lt.UsersConfiguration.MaxActiveUsers = max(cfg.ClusterConfig.MaxActiveUsers, 1)
	if mutateLT != nil {
		mutateLT(&lt)
	}
	var out, errb testtools.LockedBuffer
	err := run(context.Background(), append([]string{"--config", writeJSON(t, dir, "coordinator.json", cfg),
		"--agent-config", writeJSON(t, dir, "config.json", lt), "--results", dir, "--listen", ""}, extra...), &out, &errb)
	if len(srv.List()) != 0 {
		t.Errorf("load tests left on the agent: %v", srv.List())
	}
	return out.String(), errb.String(), err
}

// TestRun_TargetFaults takes the target away in the middle of a search, as a dead target
// (connections closed unanswered) and as a hanging one (no answer until the users' 1 s
// timeout), for 8 s, then back: no probe whose hold saw the fault passes, at least one
// fails on the server-error or timeout query, and the run ends with a report, never a crash.
func TestRun_TargetFaults(t *testing.T) {
	for _, mode := range []string{"drop", "hang"} {
		t.Run(mode, func(t *testing.T) {
			mm := mmsimtest.Start(t, nil)
			mmsimtest.CreateTeam(t, mm.URL, mm.Config, "team1")
			f := &faulty{h: mm.Handler(), release: make(chan struct{})}
			target := httptest.NewServer(f)
			defer target.Close()
			defer close(f.release)
			var from, to atomic.Int64
			stop := make(chan struct{})
			go func() { // the fault starts in the second probe (about 10 s in) and lasts 8 s
				for f.hits.Load() == 0 {
					select {
					case <-stop:
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Second):
				}
				from.Store(time.Now().UnixNano())
				f.mode.Store(mode)
				select {
				case <-stop:
				case <-time.After(8 * time.Second):
				}
				f.mode.Store("")
				to.Store(time.Now().UnixNano())
			}()
			defer close(stop)
			cfg := coordinator.DefaultConfig()
			cfg.ClusterConfig.MaxActiveUsers = 40
			cfg.Search.StartUsers, cfg.Search.HoldSec, cfg.Search.SettleSec, cfg.Search.TimeBudgetSec = 10, 3, 1, 45
			cfg.MonitorConfig.QueryFailureTimeoutSec = 20
			out, errOut, err := runCoordinator(t, cfg, target.URL, nil, func(lt *agentconfig.Config) {
				lt.ConnectionConfiguration.RequestTimeoutMilliseconds = 1000
			})
			out += errOut
			if code := exitcode.Of(err); code != exitcode.OK && code != exitcode.NoAnswer {
				t.Fatalf("exit %d (%v); want 0 or 3\n%s", code, err, out)
			}
			r := readReport(t, out)
			if from.Load() == 0 {
				t.Fatalf("the fault never started\n%s", out)
			}
			if to.Load() == 0 {
				to.Store(time.Now().UnixNano())
			}
			faultFrom, faultTo := time.Unix(0, from.Load()), time.Unix(0, to.Load())
			failed := 0
			for _, p := range r.Probes {
				end := r.StartTime.Add(time.Duration(p.At * float64(time.Second)))
				start := end.Add(-time.Duration(p.HoldSec * float64(time.Second)))
				// A hold that spent 2 s or more in the fault saw it: the users' timeout (1 s)
				// and a scrape (1 s) are what a hold needs to see a failure.
				seen := time.Duration(min(end.UnixNano(), faultTo.UnixNano()) - max(start.UnixNano(), faultFrom.UnixNano()))
				if seen >= 2*time.Second && p.Verdict == search.Pass {
					t.Errorf("probe at %d users held through the fault and passed: %s (hold %.1f-%.1f s, fault %.1f-%.1f s)", p.Users, p.Reason,
						start.Sub(r.StartTime).Seconds(), end.Sub(r.StartTime).Seconds(), faultFrom.Sub(r.StartTime).Seconds(), faultTo.Sub(r.StartTime).Seconds())
					t.Logf("%s", out)
				}
				if p.Verdict == search.Fail && (strings.Contains(p.Reason, "server errors") || strings.Contains(p.Reason, "timeouts") ||
					strings.Contains(p.Reason, "duration")) {
					failed++
				}
			}
			if failed == 0 {
				t.Errorf("no probe failed during the fault:\n%s", out)
			}
		})
	}
}

// TestRun_Preflight: what cannot work is found before any load, one line each, exit 3: a
// target without teams (`loadtest init` not run), a target that does not answer, an agent
// that does not answer, a Prometheus that does not answer, and a results folder that cannot
// be written.
func TestRun_Preflight(t *testing.T) {
	empty := mmsimtest.Start(t, nil) // no team
	ready := mmsimtest.Start(t, nil)
	mmsimtest.CreateTeam(t, ready.URL, ready.Config, "team1")
	dead := httptest.NewServer(nil)
	dead.Close()
	for _, tc := range []struct {
		name   string
		url    string
		mutate func(*coordinator.Config)
		args   []string
		want   string
	}{
		{"no team", empty.URL, nil, nil, "preflight: user lt0-user1 cannot join a team on " + empty.URL + ": no open team to join; run `loadtest init` first; no load was started"},
		{"target down", dead.URL, nil, nil, "preflight: the server at ConnectionConfiguration.ServerURL " + dead.URL + " does not answer GET /api/v4/system/ping"},
		{"prometheus down", ready.URL, func(c *coordinator.Config) { c.MonitorConfig.PrometheusURL = dead.URL }, nil,
			"preflight: the monitor, Prometheus at " + dead.URL + " (MonitorConfig.PrometheusURL), does not answer a query"},
		{"agent down", ready.URL, func(c *coordinator.Config) {
			c.ClusterConfig.Agents = append(c.ClusterConfig.Agents, coordinator.AgentConfig{Id: "gone", ApiURL: dead.URL})
			c.ClusterConfig.MaxActiveUsers = 10
		}, nil, "preflight: agent gone: "},
		{"results not writable", ready.URL, nil, []string{"--results", "/proc/loadtest-results"}, "preflight: the results folder (--results) /proc/loadtest-results"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := coordinator.DefaultConfig()
			cfg.ClusterConfig.MaxActiveUsers = 5
			out, errOut, err := runCoordinator(t, cfg, tc.url, tc.mutate, nil, tc.args...)
			// The checks of the target run before the coordinator starts; those of the agents
			// and the monitor as it starts, so a report says why it stopped.
			said := errOut
			if err != nil {
				said += err.Error()
			}
			if exitcode.Of(err) != exitcode.NoAnswer || !strings.Contains(said, tc.want) {
				t.Fatalf("exit %d, %q; want exit 3 saying %q\n%s", exitcode.Of(err), said, tc.want, out)
			}
			if strings.Contains(out, "starting the load test") || strings.Contains(out, "supported users: >=") {
				t.Errorf("load was started, or an answer printed:\n%s", out)
			}
			if tc.name != "results not writable" { // the others write a report that says why
				if r := readReport(t, out); r.Outcome != coordinator.NoAnswer || !strings.Contains(r.Error, tc.want) || len(r.Series) != 0 {
					t.Errorf("report: outcome %q, error %q, %d seconds of load; want no answer, the reason, no load", r.Outcome, r.Error, len(r.Series))
				}
			}
		})
	}
}

// TestRun_PrometheusFails: a Prometheus that answers the preflight and then only errors
// judges no probe: the search holds, stops after QueryFailureTimeoutSec with a report, no
// answer and exit 3.
func TestRun_PrometheusFails(t *testing.T) {
	mm := mmsimtest.Start(t, nil)
	mmsimtest.CreateTeam(t, mm.URL, mm.Config, "team1")
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("query") == monitor.LivenessQuery {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}`))
			return
		}
		http.Error(w, `{"status":"error","errorType":"internal","error":"the storage is on fire"}`, http.StatusServiceUnavailable)
	}))
	defer prom.Close()
	cfg := coordinator.DefaultConfig()
	cfg.ClusterConfig.MaxActiveUsers = 10
	cfg.MonitorConfig.PrometheusURL = prom.URL
	cfg.MonitorConfig.QueryFailureTimeoutSec = 5
	cfg.Search.HoldSec, cfg.Search.SettleSec = 2, 0
	out, _, err := runCoordinator(t, cfg, mm.URL, nil, nil)
	if exitcode.Of(err) != exitcode.NoAnswer {
		t.Fatalf("exit %d (%v); want 3\n%s", exitcode.Of(err), err, out)
	}
	r := readReport(t, out)
	if len(r.Probes) != 0 || r.Outcome != coordinator.NoAnswer || !strings.Contains(r.Error, "kept failing for 5s") ||
		!strings.Contains(out, "supported users: unknown (no answer: the search failed)") {
		t.Fatalf("probes %v, outcome %q, error %q; want none judged, no answer\n%s", r.Probes, r.Outcome, r.Error, out)
	}
}
