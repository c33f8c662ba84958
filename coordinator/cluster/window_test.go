package cluster

import (
	"math"
	"testing"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/internal/usermetrics"
)

// TestWindow_Load: an agent's load is judged second by second: the busiest agent is the one
// above the limit in the largest share of its seconds, with its highest CPU and lag apart;
// merged windows keep every second; an agent that reports only the whole utilization has it
// counted as CPU.
func TestWindow_Load(t *testing.T) {
	var w Window
	w.Add(Window{AgentSeconds: map[string][]usermetrics.Sample{
		"a": {{CPU: 0.3}, {CPU: 0.5, Lag: 1}, {CPU: 0.4}},    // one lag spike in three
		"b": {{CPU: 0.85}, {CPU: 0.9, Lag: 0.2}, {CPU: 0.2}}, // two seconds above
	}})
	w.Add(Window{AgentSeconds: map[string][]usermetrics.Sample{"a": {{CPU: 0.3}}, "b": {{CPU: 0.3}}}})
	l := w.Load(0.8)
	if l.Agent != "b" || math.Abs(l.OverShare-0.5) > 1e-9 || l.CPU != 0.9 || l.Lag != 0.2 || l.Max != 0.9 || l.Limit != 0.8 {
		t.Errorf("Load = %+v; want b, above in 2 of 4 seconds, CPU 0.9, lag 0.2", l)
	}
	if !l.Saturated() {
		t.Error("an agent above the limit half the time is not saturated")
	}
	loads := w.Loads(0.8)
	if len(loads) != 2 || loads[0].Agent != "a" || math.Abs(loads[0].OverShare-0.25) > 1e-9 || loads[0].Lag != 1 {
		t.Errorf("Loads = %+v; want a first, above in 1 of 4 seconds, lag 1", loads)
	}
	if got := (Window{}).Load(0.8); got.Agent != "" || got.Saturated() {
		t.Errorf("the load of no agent = %+v; want none, not saturated", got)
	}
	if s := sampleOf(agent.Interval{Utilization: 0.7}); s.CPU != 0.7 || s.Lag != 0 {
		t.Errorf("an interval with only its utilization = %+v; want it as CPU", s)
	}
	if s := sampleOf(agent.Interval{Utilization: 0.9, CPU: 0.2, Lag: 0.9}); s.CPU != 0.2 || s.Lag != 0.9 || s.Value() != 0.9 {
		t.Errorf("an interval with its parts = %+v", s)
	}
}
