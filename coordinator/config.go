package coordinator

import (
	"fmt"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/monitor"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/logging"
)

// Config is the coordinator's configuration, with seed 002's field names, plus Search.
type Config struct {
	ClusterConfig ClusterConfig
	MonitorConfig MonitorConfig
	// NumUsersInc, NumUsersDec and RestTimeSec drive the fixed-step strategy (the seed's loop):
	// users added per step, removed per alert, and seconds to wait after an alert.
	NumUsersInc int
	NumUsersDec int
	RestTimeSec int
	Search      SearchSettings
	LogSettings logging.Settings
}

// ClusterConfig lists the agents and the most users the whole cluster may run.
type ClusterConfig struct {
	Agents         []AgentConfig
	MaxActiveUsers int
	// JoinListen, if set (e.g. ":9696"), accepts agents that join over a WebSocket
	// (`loadtest server --join ws://host:9696/join`) besides Agents.
	JoinListen string
	// MinJoinedAgents is how many agents must join before the run starts (0: 1 when Agents
	// is empty, else none).
	MinJoinedAgents int
}

// MonitorConfig says how performance is judged.
type MonitorConfig struct {
	// PrometheusURL is a Prometheus server to query; empty: the embedded engine scrapes the
	// agents and ScrapeTargets itself.
	PrometheusURL string
	// UpdateIntervalMs is how often the fixed-step loop queries (the seed's; >= 1000).
	UpdateIntervalMs int
	// ScrapeTargets are more /metrics URLs for the embedded engine (the target's, say); the
	// agents are scraped without being listed.
	ScrapeTargets []ScrapeTarget
	// ScrapeIntervalMs is the embedded engine's scrape interval.
	ScrapeIntervalMs int
	// QueryFailureTimeoutSec is how long queries may keep failing (error, no data, NaN)
	// before the search gives up with an error. While they fail, the search holds.
	QueryFailureTimeoutSec int
	Queries                []Query
}

// ScrapeTarget is a /metrics endpoint for the embedded engine.
type ScrapeTarget struct {
	Job string
	URL string
}

// SearchSettings tune the search.
type SearchSettings struct {
	Strategy   string  // "adaptive" (default) or "fixed-step" (the seed's loop)
	StartUsers int     // adaptive: the first probe (0: min(50, MaxActiveUsers))
	Growth     float64 // adaptive: bracketing factor
	Precision  float64 // adaptive: the bracket's width at which the search ends, relative to its lower end
	// HoldSec is how long each probe holds its users while measuring; every query's range
	// ([1m] and the like) is set to it, so the window sees only the probe.
	HoldSec int
	// MaxHoldSec caps a probe's hold when its value is within noise of a threshold: the probe
	// then holds HoldSec more at a time until the verdict is clear (95 %, batch means over
	// the hold) or MaxHoldSec is reached. 0: 4 x HoldSec; HoldSec: never extend.
	MaxHoldSec int
	// StaleSec: before the search ends, the fail bounding the answer is probed again when it
	// ended more than StaleSec before the last probe: the target's capacity, or its users'
	// demand, may have moved since (simulative users ask for less as their caches fill). 0:
	// 3 x the longest hold (MaxHoldSec); -1: never.
	StaleSec int
	// SettleSec is the wait after a ramp before the hold starts (logins, caches).
	SettleSec int
	// RampRate caps users added per second across the cluster (logins are costly).
	RampRate int
	// MaxAgentUtilization: a probe during which an agent is above it in more than 5 % of
	// its seconds (usermetrics.MaxOverShare) is invalid.
	MaxAgentUtilization float64
	// MaxUserFailureShare: a probe whose users failed on their own side (a 4xx other than
	// 408 and 429, no team to join, a script's error) in more than this share of their
	// actions and sessions is invalid: the workload, not the target, is broken. Two such
	// probes in a row end the search without an answer.
	MaxUserFailureShare float64
	// TimeBudgetSec ends the search with the best bracket so far.
	TimeBudgetSec int
	// ConvergenceWindowSec is the fixed-step loop's window for its stop rule (the seed's 30
	// minutes).
	ConvergenceWindowSec int
}

// DefaultConfig returns the defaults: one agent lt0 on localhost:4000, the seed's step
// sizes, the embedded engine, the seed's client-side queries, and the adaptive search.
func DefaultConfig() Config {
	ls := logging.DefaultSettings()
	return Config{
		ClusterConfig: ClusterConfig{Agents: []AgentConfig{{Id: "lt0", ApiURL: "http://localhost:4000"}}, MaxActiveUsers: 1000},
		MonitorConfig: MonitorConfig{UpdateIntervalMs: 1000, ScrapeIntervalMs: 1000, QueryFailureTimeoutSec: 60, ScrapeTargets: []ScrapeTarget{},
			Queries: DefaultQueries()},
		NumUsersInc: 8, NumUsersDec: 8, RestTimeSec: 2,
		Search: SearchSettings{Strategy: "adaptive", Growth: 2, Precision: 0.02, HoldSec: 15, SettleSec: 5,
			RampRate: 50, MaxAgentUtilization: 0.8, MaxUserFailureShare: 0.02, TimeBudgetSec: 1800, ConvergenceWindowSec: 1800},
		LogSettings: ls,
	}
}

// DefaultQueries are the seed's client-side queries (reference §3.5), on the agents' own
// metrics, so they work against any target. The error query counts every failure that is
// the target's (as mattermost.ServerFault does): 5xx, 408, 429, requests that got no
// response at all (refused or reset connections) and timeouts; the seed's counted 5xx only,
// so a target that was down failed fast and passed on latency. Both failure queries read
// loadtest_http_failures_total, whose every kind is exported from the start at 0: a
// labelled counter that first appears in the middle of a hold has one sample in its window,
// and rate() then sees nothing, so a probe that held through an outage passed.
func DefaultQueries() []Query {
	return []Query{
		{Description: "Average client request duration", Legend: "seconds",
			Query:     `sum(rate(loadtest_http_request_time_sum[1m])) / sum(rate(loadtest_http_request_time_count[1m]))`,
			Threshold: 0.1, MinIntervalSec: 60, Alert: true},
		{Description: "99th percentile of client request duration", Legend: "seconds",
			Query:     `histogram_quantile(0.99, sum(rate(loadtest_http_request_time_bucket[1m])) by (le))`,
			Threshold: 2.0, MinIntervalSec: 60, Alert: true},
		{Description: "Percentage of server errors (HTTP 5xx, 408, 429, no response)", Legend: "%",
			Query:     `sum(rate(loadtest_http_failures_total{kind=~"server_error|no_response|timeout"}[1m])) / sum(rate(loadtest_http_request_time_count[1m])) * 100`,
			Threshold: 0.025, MinIntervalSec: 60, Alert: true},
		{Description: "Percentage of client timeouts", Legend: "%",
			Query:     `sum(rate(loadtest_http_failures_total{kind="timeout"}[1m])) / sum(rate(loadtest_http_request_time_count[1m])) * 100`,
			Threshold: 0.025, MinIntervalSec: 60, Alert: true},
	}
}

// ReadConfig reads path over the defaults; an empty path returns the defaults. Every error
// names the field.
func ReadConfig(path string) (*Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return &cfg, cfg.Validate()
	}
	if err := config.Load(path, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate checks every field and reports all that are wrong.
func (c *Config) Validate() error {
	var ck config.Checker
	cc := c.ClusterConfig
	ck.Check(len(cc.Agents) > 0 || cc.JoinListen != "", "ClusterConfig.Agents", len(cc.Agents), "must list at least one agent (or set ClusterConfig.JoinListen for agents that join)")
	ck.Check(cc.MinJoinedAgents >= 0, "ClusterConfig.MinJoinedAgents", cc.MinJoinedAgents, "must be >= 0")
	seen := map[string]bool{}
	for i, a := range cc.Agents {
		f := fmt.Sprintf("ClusterConfig.Agents[%d]", i)
		if err := agent.ValidID(a.Id); err != nil {
			ck.Check(false, f+".Id", a.Id, "must be 1 to 10 lower-case letters, digits, '.', '-' or '_', starting with a letter")
		}
		ck.Check(!seen[a.Id], f+".Id", a.Id, "must be unique (it names the users)")
		seen[a.Id] = true
		ck.Check(a.ApiURL == "" || config.HTTPURL(a.ApiURL), f+".ApiURL", a.ApiURL, "must be an http(s):// URL")
	}
	ck.Check(cc.MaxActiveUsers > 0, "ClusterConfig.MaxActiveUsers", cc.MaxActiveUsers, "must be > 0")
	mc := c.MonitorConfig
	ck.Check(mc.PrometheusURL == "" || config.HTTPURL(mc.PrometheusURL), "MonitorConfig.PrometheusURL", mc.PrometheusURL, "must be an http(s):// URL, or empty for the embedded engine")
	ck.Check(mc.UpdateIntervalMs >= 1000, "MonitorConfig.UpdateIntervalMs", mc.UpdateIntervalMs, "must be >= 1000")
	ck.Check(mc.ScrapeIntervalMs >= 100, "MonitorConfig.ScrapeIntervalMs", mc.ScrapeIntervalMs, "must be >= 100")
	ck.Check(mc.QueryFailureTimeoutSec > 0, "MonitorConfig.QueryFailureTimeoutSec", mc.QueryFailureTimeoutSec, "must be > 0")
	for i, t := range mc.ScrapeTargets {
		ck.Check(config.HTTPURL(t.URL), fmt.Sprintf("MonitorConfig.ScrapeTargets[%d].URL", i), t.URL, "must be an http(s):// URL")
		ck.Check(t.Job != "", fmt.Sprintf("MonitorConfig.ScrapeTargets[%d].Job", i), t.Job, "must not be empty")
	}
	ck.Check(len(mc.Queries) > 0, "MonitorConfig.Queries", len(mc.Queries), "must have at least one query")
	alerts := 0
	for i, q := range mc.Queries {
		f := fmt.Sprintf("MonitorConfig.Queries[%d]", i)
		if _, err := parser.ParseExpr(q.Query); err != nil {
			ck.Check(false, f+".Query", q.Query, "must be PromQL: "+err.Error())
		}
		ck.Check(q.Description != "", f+".Description", q.Description, "must not be empty")
		ck.Check(q.MinIntervalSec >= 0, f+".MinIntervalSec", q.MinIntervalSec, "must be >= 0")
		if q.Alert {
			alerts++
		}
	}
	ck.Check(len(mc.Queries) == 0 || alerts > 0, "MonitorConfig.Queries", alerts, "at least one query must have Alert: true")
	ck.Check(c.NumUsersInc > 0, "NumUsersInc", c.NumUsersInc, "must be > 0")
	ck.Check(c.NumUsersDec > 0, "NumUsersDec", c.NumUsersDec, "must be > 0")
	ck.Check(c.RestTimeSec > 0, "RestTimeSec", c.RestTimeSec, "must be > 0")
	s := c.Search
	ck.Check(config.OneOf(s.Strategy, "adaptive", "fixed-step"), "Search.Strategy", s.Strategy, `must be "adaptive" or "fixed-step"`)
	ck.Check(s.StartUsers >= 0, "Search.StartUsers", s.StartUsers, "must be >= 0 (0: automatic)")
	ck.Check(s.Growth > 1, "Search.Growth", s.Growth, "must be > 1")
	ck.Check(s.Precision > 0 && s.Precision < 1, "Search.Precision", s.Precision, "must be in (0, 1)")
	ck.Check(s.HoldSec >= 2, "Search.HoldSec", s.HoldSec, "must be >= 2")
	ck.Check(s.MaxHoldSec == 0 || s.MaxHoldSec >= s.HoldSec, "Search.MaxHoldSec", s.MaxHoldSec, fmt.Sprintf("must be 0 (4 x HoldSec) or >= HoldSec (%d)", s.HoldSec))
	ck.Check(s.StaleSec >= -1, "Search.StaleSec", s.StaleSec, "must be -1 (never), 0 (3 x MaxHoldSec) or > 0")
	ck.Check(s.SettleSec >= 0, "Search.SettleSec", s.SettleSec, "must be >= 0")
	ck.Check(s.RampRate > 0, "Search.RampRate", s.RampRate, "must be > 0")
	ck.Check(s.MaxAgentUtilization > 0 && s.MaxAgentUtilization <= 1, "Search.MaxAgentUtilization", s.MaxAgentUtilization, "must be in (0, 1]")
	ck.Check(s.MaxUserFailureShare > 0 && s.MaxUserFailureShare <= 1, "Search.MaxUserFailureShare", s.MaxUserFailureShare, "must be in (0, 1] (1: never judge the users' own failures)")
	ck.Check(s.TimeBudgetSec > 0, "Search.TimeBudgetSec", s.TimeBudgetSec, "must be > 0")
	ck.Check(s.ConvergenceWindowSec > 0, "Search.ConvergenceWindowSec", s.ConvergenceWindowSec, "must be > 0")
	ck.Add("LogSettings", c.LogSettings.Validate())
	return ck.Err()
}

// MaxHold returns the longest hold in seconds: MaxHoldSec, or 4 x HoldSec when it is 0.
func (s SearchSettings) MaxHold() int {
	if s.MaxHoldSec == 0 {
		return 4 * s.HoldSec
	}
	return s.MaxHoldSec
}

// Stale returns how old, in seconds, the fail bounding the answer may be when the search
// ends: StaleSec, 3 x MaxHold() when it is 0, and 0 (no limit) when it is -1.
func (s SearchSettings) Stale() int {
	switch s.StaleSec {
	case 0:
		return 3 * s.MaxHold()
	case -1:
		return 0
	}
	return s.StaleSec
}

// Query is a PromQL expression watched during the search (MonitorConfig.Queries).
type Query = monitor.Query

// AgentConfig is one agent of ClusterConfig.Agents.
type AgentConfig = cluster.AgentConfig
