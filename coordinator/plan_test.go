package coordinator

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/plan"
)

// TestPeriod_MarksSaturatedAgents: a period in which an agent passed MaxAgentUtilization is
// marked, naming the agent.
func TestPeriod_MarksSaturatedAgents(t *testing.T) {
	j, c := &planJob{p: &plan.Plan{MaxAgentUtilization: 0.8}}, &Coordinator{}
	w := cluster.Window{Utilization: 0.93, AgentUtil: map[string]float64{"a1": 0.93, "a2": 0.4, "a3": 0.81}}
	p := j.period(c, w, time.Now(), time.Now(), "sustain", false)
	if !p.Saturated || strings.Join(p.SaturatedAgents, ",") != "a1,a3" || p.Utilization != 0.93 {
		t.Errorf("period %+v; want saturated by a1 and a3", p)
	}
	w.AgentUtil = map[string]float64{"a1": 0.8}
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
