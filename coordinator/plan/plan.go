package plan

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/threshold"
)

// Plan is a fixed load plan (seed 003): keep Users scripted users for SustainSec, reached in
// RampSteps equal steps over RampUpSec and left in as many steps over WindDownSec. The
// coordinator splits the users evenly across the agents, and reports every ReportEverySec to
// the Writers.
type Plan struct {
	Name string
	// Targets are the base URLs the scripts' relative URLs resolve against; user n uses
	// Targets[(n-1) % len(Targets)] (and sees it as target).
	Targets []string
	Scripts []agentconfig.ScriptSpec
	// UserType is "script" (the default: the users run Scripts) or a Mattermost user type,
	// "simulative", "simple" or "noop", which run against Targets[0] as the Mattermost server
	// (with the defaults of config/config.default.json).
	UserType string
	Users    int
	// RampUpSec, SustainSec and WindDownSec are the phases' lengths.
	RampUpSec, SustainSec, WindDownSec int
	// RampSteps is how many equal steps ramp-up and wind-down take (0: one a second).
	RampSteps int
	// Agents run the users; empty: the coordinator config's ClusterConfig.Agents.
	Agents []cluster.AgentConfig
	// MaxUsers is the most users the run can be changed to while it runs (the web UI's
	// users field, Coordinator.SetUsers); 0: twice Users.
	MaxUsers int
	// UsersPerAgent caps each agent's users (0: an even share of MaxUsers, rounded up).
	UsersPerAgent int
	// ReportEverySec is how often the writers get a period's metrics (default 60, a minute).
	ReportEverySec int
	// MaxAgentUtilization: an agent above it in more than 5 % of a period's seconds
	// (usermetrics.MaxOverShare) is saturated; the coordinator warns and marks the period,
	// since its latencies may measure the agent, not the target.
	MaxAgentUtilization float64
	// RequestTimeoutMs bounds each request (default 30000).
	RequestTimeoutMs int
	Writers          Writers
	// Script tunes the scripts' sandbox (steps, response size, memory); Targets and Scripts
	// come from the plan's own fields.
	Script agentconfig.ScriptConfig
	// Thresholds are the run's pass/fail criteria, checked over the whole run at its end
	// ("p99<500ms", "error_rate<1%", "route GET /users/me p95<200ms"; the grammar is
	// threshold.Syntax). One that fails makes the run exit 99.
	Thresholds []string
}

// Writers say where a plan's periodic metrics go. Every writer gets every period.
type Writers struct {
	CSV              string // a CSV file: one row per metric per period ("" for none)
	JSONLines        string // a JSON-lines file: one object per period
	PrometheusListen string // serve the latest metrics in Prometheus exposition here, e.g. 127.0.0.1:9097
	CloudWatch       *CloudWatchWriter
}

// CloudWatchWriter sends each period with PutMetricData; the region and credentials come
// from the standard AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID, profiles, roles).
type CloudWatchWriter struct {
	Namespace string
	Region    string // overrides the environment's
	Endpoint  string // overrides the service endpoint (a local test endpoint, say)
	// Dimensions are added to every datum (Plan is added too).
	Dimensions map[string]string
}

// DefaultPlan returns the defaults a plan file is read over.
func DefaultPlan() Plan {
	return Plan{Name: "plan", ReportEverySec: 60, MaxAgentUtilization: 0.8, RequestTimeoutMs: 30000}
}

// ReadPlan reads a plan file over the defaults; script Files are read relative to it. Every
// error names the field.
func ReadPlan(path string) (*Plan, error) {
	p := DefaultPlan()
	if err := config.Load(path, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ReadFiles reads the scripts' Files, relative to dir (config.Load calls it).
func (p *Plan) ReadFiles(dir string) error {
	return agentconfig.ReadScriptFiles(p.Scripts, dir, "Scripts")
}

// EnvPrefix starts the environment variables that override a plan's fields
// (PLAN_USERS=500, PLAN_TARGETS='["http://10.0.0.5:8065"]'; see config.Env).
const EnvPrefix = "PLAN"

// FromEnv overrides the plan's fields from the environment (PLAN_...), says which on w, and
// checks the plan again.
func (p *Plan) FromEnv(w io.Writer) error {
	if err := config.FromEnv(w, "plan", EnvPrefix, p); err != nil {
		return err
	}
	return p.Validate()
}

// AddThresholds adds thresholds (from --threshold flags) to the plan's, and checks them.
func (p *Plan) AddThresholds(exprs []string) error {
	if _, err := threshold.ParseAll("--threshold", exprs); err != nil {
		return err
	}
	p.Thresholds = append(p.Thresholds, exprs...)
	return nil
}

// Validate checks every field and reports all that are wrong.
func (p *Plan) Validate() error {
	var ck config.Checker
	ck.Check(len(p.Targets) > 0, "Targets", len(p.Targets), "must list at least one base URL")
	const week = 7 * 24 * 3600
	ck.Check(p.Users > 0 && p.Users <= 10_000_000, "Users", p.Users, "must be in [1, 10000000]")
	ck.Check(p.RampUpSec >= 0 && p.RampUpSec <= week, "RampUpSec", p.RampUpSec, "must be in [0, 604800] (a week)")
	ck.Check(p.SustainSec > 0 && p.SustainSec <= week, "SustainSec", p.SustainSec, "must be in [1, 604800] (a week)")
	ck.Check(p.WindDownSec >= 0 && p.WindDownSec <= week, "WindDownSec", p.WindDownSec, "must be in [0, 604800] (a week)")
	ck.Check(p.RampSteps >= 0 && p.RampSteps <= week, "RampSteps", p.RampSteps, "must be in [0, 604800] (0: one step a second)")
	ck.Check(p.MaxUsers == 0 || p.MaxUsers >= p.Users && p.MaxUsers <= 10_000_000, "MaxUsers", p.MaxUsers, "must be 0 (twice Users) or in [Users, 10000000]")
	ck.Check(p.UsersPerAgent >= 0, "UsersPerAgent", p.UsersPerAgent, "must be >= 0 (0: an even share)")
	ck.Check(p.ReportEverySec >= 1, "ReportEverySec", p.ReportEverySec, "must be >= 1")
	ck.Check(p.MaxAgentUtilization > 0 && p.MaxAgentUtilization <= 1, "MaxAgentUtilization", p.MaxAgentUtilization, "must be in (0, 1]")
	ck.Check(p.RequestTimeoutMs > 0, "RequestTimeoutMs", p.RequestTimeoutMs, "must be > 0")
	for i, a := range p.Agents {
		ck.Check(a.Id != "", fmt.Sprintf("Agents[%d].Id", i), a.Id, "must be set")
		ck.Check(config.HTTPURL(a.ApiURL), fmt.Sprintf("Agents[%d].ApiURL", i), a.ApiURL, "must be an http(s):// URL")
	}
	if cw := p.Writers.CloudWatch; cw != nil {
		ck.Check(cw.Namespace != "" && !strings.HasPrefix(cw.Namespace, "AWS/"), "Writers.CloudWatch.Namespace", cw.Namespace, `must be set, and not start with "AWS/"`)
		ck.Check(cw.Endpoint == "" || config.HTTPURL(cw.Endpoint), "Writers.CloudWatch.Endpoint", cw.Endpoint, "must be an http(s):// URL or empty")
	}
	ck.Check(config.OneOf(p.UserType, "", "script", "simulative", "simple", "noop"), "UserType", p.UserType,
		`must be "script", "simulative", "simple" or "noop"`)
	if p.UserType == "" || p.UserType == "script" {
		ck.Add("", p.scriptConfig().Validate())
	}
	_, err := threshold.ParseAll("Thresholds", p.Thresholds)
	ck.Add("", err)
	return ck.Err()
}

func (p *Plan) scriptConfig() agentconfig.ScriptConfig {
	sc := p.Script
	sc.Targets, sc.Scripts = p.Targets, p.Scripts
	return sc
}

// AgentConfig returns the agent config the plan sends to each of n agents.
func (p *Plan) AgentConfig(n int) agentconfig.Config {
	lt := agentconfig.DefaultConfig()
	lt.ConnectionConfiguration.ServerURL = p.Targets[0]
	if !strings.HasPrefix(p.Targets[0], "http") { // a ws:// target: the HTTP settings are unused
		lt.ConnectionConfiguration.ServerURL = "http" + strings.TrimPrefix(p.Targets[0], "ws")
	}
	lt.ConnectionConfiguration.WebSocketURL = ""
	lt.ConnectionConfiguration.RequestTimeoutMilliseconds = p.RequestTimeoutMs
	lt.UserControllerConfiguration.Type = cmp.Or(p.UserType, "script")
	if lt.UserControllerConfiguration.Type == "script" {
		lt.UserControllerConfiguration.Script = p.scriptConfig()
	}
	per := p.UsersPerAgent
	if per == 0 {
		per = int(math.Ceil(float64(cmp.Or(p.MaxUsers, 2*p.Users)) / float64(max(1, n))))
	}
	lt.UsersConfiguration.MaxActiveUsers = per
	return lt
}

// Duration is the plan's whole length.
func (p *Plan) Duration() time.Duration {
	return time.Duration(p.RampUpSec+p.SustainSec+p.WindDownSec) * time.Second
}

// UsersAt is how many users the plan wants at elapsed, and in which phase: ramp-up steps
// up to Users in RampSteps equal steps (the first at the start), sustain holds Users, and
// wind-down steps down in as many steps, to 0 at the end. done is true from the end on.
func UsersAt(p *Plan, elapsed time.Duration) (users int, phase string, done bool) {
	up := time.Duration(p.RampUpSec) * time.Second
	hold := time.Duration(p.SustainSec) * time.Second
	down := time.Duration(p.WindDownSec) * time.Second
	step := func(d time.Duration, secs int, k time.Duration) int { // steps completed after k of d
		n := p.RampSteps
		if n == 0 {
			n = max(1, secs)
		}
		done := int(k * time.Duration(n) / d)
		return min(n, done)
	}
	n := p.RampSteps
	switch {
	case elapsed < 0:
		return 0, "ramp-up", false
	case elapsed < up:
		if n == 0 {
			n = max(1, p.RampUpSec)
		}
		s := step(up, p.RampUpSec, elapsed) + 1
		return int(math.Ceil(float64(p.Users) * float64(s) / float64(n))), "ramp-up", false
	case elapsed < up+hold:
		return p.Users, "sustain", false
	case elapsed < up+hold+down:
		if n == 0 {
			n = max(1, p.WindDownSec)
		}
		s := step(down, p.WindDownSec, elapsed-up-hold) + 1
		return int(math.Floor(float64(p.Users) * float64(n-s) / float64(n))), "wind-down", false
	}
	return 0, "done", true
}

// Period is what the agents measured in one reporting period of a plan (a minute by
// default), merged exactly across them.
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Phase string    `json:"phase"` // the plan's phase at the end
	Users int       `json:"users"` // active at the end
	// Metrics are the merged histograms by key: "route GET /x" (requests, from their actual
	// start), "phase connect|headers|body", "timing <name>", "action script <name>" (each
	// main() call) and, for paced scripts, "action script <name> (intended)" (from the
	// intended start: coordinated omission corrected).
	Metrics  []histogram.Summary `json:"metrics"`
	Counters map[string]int64    `json:"counters,omitempty"`
	// Utilization is the highest agent's (0..1); Saturated says it passed the plan's
	// MaxAgentUtilization, so the period's latencies may measure the agent, not the target.
	Utilization     float64  `json:"utilization"`
	Saturated       bool     `json:"saturated"`
	SaturatedAgents []string `json:"saturated_agents,omitempty"`
	Final           bool     `json:"final"` // the last, possibly partial, period
}

// A Writer receives every period of a plan, in order, from one goroutine.
type Writer interface {
	Write(ctx context.Context, p Period) error
	Close() error
}
