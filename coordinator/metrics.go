package coordinator

import (
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports a coordinator's state in Prometheus exposition, for dashboards
// (deploy/grafana) and alerts: users, the bracket, the probes by verdict, each query's value
// at the last probe beside its threshold, and the agents. Label values are the queries'
// descriptions, the agents' ids and the three verdicts: closed sets from the config.
func (c *Coordinator) Collector() prometheus.Collector { return &collector{c: c} }

type collector struct{ c *Coordinator }

var (
	descUsers = prometheus.NewDesc("loadtest_coordinator_active_users",
		"Users the coordinator has asked the agents for.", nil, nil)
	descSupported = prometheus.NewDesc("loadtest_coordinator_supported_users",
		"The answer so far: the most users a probe passed with (0 before one passed).", nil, nil)
	descBracket = prometheus.NewDesc("loadtest_coordinator_bracket_users",
		"The search's bracket: the last pass (bound=\"low\") and the first fail (bound=\"high\", 0 until one failed).", []string{"bound"}, nil)
	descProbes = prometheus.NewDesc("loadtest_coordinator_probes_total",
		"Probes judged, by verdict (pass, fail, invalid).", []string{"verdict"}, nil)
	descProbeUsers = prometheus.NewDesc("loadtest_coordinator_last_probe_users",
		"Users of the last probe judged.", nil, nil)
	descValue = prometheus.NewDesc("loadtest_coordinator_query_value",
		"Each monitor query's value at the last probe judged.", []string{"query"}, nil)
	descThreshold = prometheus.NewDesc("loadtest_coordinator_query_threshold",
		"Each monitor query's threshold.", []string{"query"}, nil)
	descAgentUp = prometheus.NewDesc("loadtest_coordinator_agent_up",
		"1 for each agent the coordinator drives that answers, 0 for one that does not.", []string{"agent"}, nil)
	descAgentUsers = prometheus.NewDesc("loadtest_coordinator_agent_users",
		"Users each agent runs.", []string{"agent"}, nil)
	descAgentUtil = prometheus.NewDesc("loadtest_coordinator_agent_utilization",
		"Each agent's utilization (0..1; above 0.8 it, not the target, may limit the users).", []string{"agent"}, nil)
)

func (*collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUsers, descSupported, descBracket, descProbes, descProbeUsers, descValue,
		descThreshold, descAgentUp, descAgentUsers, descAgentUtil} {
		ch <- d
	}
}

func (k *collector) Collect(ch chan<- prometheus.Metric) {
	c := k.c
	c.mu.Lock()
	st := c.status
	queries := c.cfg.MonitorConfig.Queries
	var last *search.Probe
	counts := map[search.Verdict]int{search.Pass: 0, search.Fail: 0, search.Invalid: 0}
	for i := range c.report.Probes {
		counts[c.report.Probes[i].Verdict]++
		last = &c.report.Probes[i]
	}
	var values []float64
	lastUsers := 0
	if last != nil {
		values, lastUsers = append([]float64(nil), last.Values...), last.Users
	}
	agents := append([]cluster.AgentHealth(nil), c.report.lastAgents...)
	c.mu.Unlock()

	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descUsers, float64(st.ActiveUsers))
	gauge(descSupported, float64(st.Bracket[0]))
	gauge(descBracket, float64(st.Bracket[0]), "low")
	gauge(descBracket, float64(st.Bracket[1]), "high")
	for _, v := range []search.Verdict{search.Pass, search.Fail, search.Invalid} {
		ch <- prometheus.MustNewConstMetric(descProbes, prometheus.CounterValue, float64(counts[v]), string(v))
	}
	gauge(descProbeUsers, float64(lastUsers))
	for i, q := range queries {
		gauge(descThreshold, q.Threshold, q.Description)
		if i < len(values) {
			gauge(descValue, values[i], q.Description)
		}
	}
	for _, a := range agents {
		up := 0.0
		if a.Up {
			up = 1
		}
		gauge(descAgentUp, up, a.ID)
		gauge(descAgentUsers, float64(a.Users), a.ID)
		gauge(descAgentUtil, a.Utilization, a.ID)
	}
}
