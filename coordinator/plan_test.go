package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/internal/usermetrics"
)

// TestPeriod_MarksSaturatedAgents: a period in which an agent was above MaxAgentUtilization
// in more than 5 % of its seconds is marked, naming the agent; one bad second is not enough.
func TestPeriod_MarksSaturatedAgents(t *testing.T) {
	j, c := &planJob{p: &plan.Plan{MaxAgentUtilization: 0.8}}, &Coordinator{}
	seconds := func(n int, u float64, over int, spike usermetrics.Sample) []usermetrics.Sample {
		ss := make([]usermetrics.Sample, n)
		for i := range ss {
			ss[i] = usermetrics.Sample{CPU: u}
			if i < over {
				ss[i] = spike
			}
		}
		return ss
	}
	w := cluster.Window{Utilization: 0.93, AgentSeconds: map[string][]usermetrics.Sample{
		"a1": seconds(20, 0.93, 0, usermetrics.Sample{}),                   // above all the time
		"a2": seconds(30, 0.4, 0, usermetrics.Sample{}),                    // never
		"a3": seconds(30, 0.4, 1, usermetrics.Sample{CPU: 0.5, Lag: 1}),    // one second of lag in 30
		"a4": seconds(30, 0.5, 3, usermetrics.Sample{CPU: 0.85, Lag: 0.2}), // 10 % of its seconds
	}}
	p := j.period(c, w, time.Now(), time.Now(), "sustain", false)
	if !p.Saturated || strings.Join(p.SaturatedAgents, ",") != "a1,a4" || p.Utilization != 0.93 {
		t.Errorf("period %+v; want saturated by a1 and a4", p)
	}
	w.AgentSeconds = map[string][]usermetrics.Sample{"a1": seconds(10, 0.8, 0, usermetrics.Sample{})}
	if p := j.period(c, w, time.Now(), time.Now(), "sustain", false); p.Saturated {
		t.Errorf("0.8 is not above 0.8: %+v", p)
	}
}

// TestNewPlan_HidesSecrets: a plan's report never holds its scripts' secret params.
func TestNewPlan_HidesSecrets(t *testing.T) {
	p := plan.DefaultPlan()
	p.Targets, p.Users, p.SustainSec = []string{"http://127.0.0.1:1"}, 2, 1
	p.Scripts = []agentconfig.ScriptSpec{{Name: "s", Source: "def main():\n    get('/')\n",
		Params: map[string]any{"password": "hunter2", "api_key": "k-123", "user": "bob"}}}
	c, err := NewPlan(nil, &p, Options{Agents: []cluster.Agent{agent.NewServer(agent.ServerOptions{}).LoadTest("a")}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c.Report())
	if bytes.Contains(b, []byte("hunter2")) || bytes.Contains(b, []byte("k-123")) || !bytes.Contains(b, []byte("bob")) {
		t.Errorf("the report shows a secret, or hides too much: %s", b)
	}
	if p.Scripts[0].Params["password"] != "hunter2" {
		t.Error("redacting the report changed the plan the agents get")
	}
}

// TestPlan_SetUsers changes a running plan's users, as the web UI does: the agents run the
// new count from the next second and hold it through the sustain; the wind-down starts
// from it; the decision says so; a count outside [0, the agents' MaxActiveUsers] and a
// search are refused.
func TestPlan_SetUsers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := plan.DefaultPlan()
		p.Targets, p.Users, p.SustainSec, p.WindDownSec, p.RampSteps = []string{"http://127.0.0.1:1"}, 4, 30, 4, 2
		p.Scripts = []agentconfig.ScriptSpec{{Name: "s", Source: "def main():\n    pass\n"}}
		srv := agent.NewServer(agent.ServerOptions{NewUser: blockingUsers})
		defer srv.Shutdown(context.Background())
		c, err := NewPlan(nil, &p, Options{Agents: []cluster.Agent{srv.LoadTest("a")}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetUsers(5); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("SetUsers before Run: %v; want ErrNotRunning", err)
		}
		wait := startSearch(t, c)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := clusterUsers(srv)(); n != 4 {
			t.Fatalf("%d users in the sustain; want the plan's 4", n)
		}
		for _, bad := range []int{-1, 9} { // MaxUsers: twice 4, on the one agent
			if err := c.SetUsers(bad); !errors.Is(err, ErrBadUsers) {
				t.Errorf("SetUsers(%d): %v; want ErrBadUsers", bad, err)
			}
		}
		if err := c.SetUsers(7); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := clusterUsers(srv)(); n != 7 {
			t.Fatalf("%d users after SetUsers(7)", n)
		}
		time.Sleep(24 * time.Second) // at 31 s: the wind-down's first step of two (30 to 32 s)
		synctest.Wait()
		if n := clusterUsers(srv)(); n != 3 {
			t.Fatalf("%d users in the wind-down's first step; want 3 (half of 7, rounded down)", n)
		}
		wait()
		r := c.Report()
		if !slices.ContainsFunc(r.Decisions, func(d TimedDecision) bool {
			return d.Users == 7 && strings.Contains(d.Reason, "set during the run")
		}) {
			t.Errorf("no decision records the change: %+v", r.Decisions)
		}
	})
	s, _ := setup(t, nil, func(int) (float64, error) { return 0, nil })
	if err := s.SetUsers(3); !errors.Is(err, ErrNotPlan) {
		t.Errorf("a search's SetUsers: %v; want ErrNotPlan", err)
	}
}
