// Package demo is `loadtest demo`: mmsim with a known capacity, an agent, the embedded
// Prometheus engine and the coordinator, in one process on 127.0.0.1. It prints the supported
// users the search finds beside the number the capacity model implies, and writes the report.
package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/internal/app/populate"
	"github.com/loadtest/loadtest/internal/controller"
	"github.com/loadtest/loadtest/internal/mmsim"
	"github.com/loadtest/loadtest/mattermost"
	"github.com/loadtest/loadtest/web"
)

// Options configure the demo.
type Options struct {
	Workers     int           // mmsim's capacity model: requests in service at once
	ServiceTime time.Duration // and the time each holds a worker
	Threshold   time.Duration // the mean-latency threshold T
	// Utilization, when not 0, is the criterion instead of the latency: the workers'
	// utilization a probe may reach (0 < U < 1). The latency queries are dropped (the error
	// and timeout ones stay), and the model's answer is U·W/S over the users' request rate.
	Utilization float64
	MaxUsers    int
	Hold        time.Duration
	MaxHold     time.Duration // 0: 4 x Hold, or 8 x Hold for simulative users (see Limits)
	Settle      time.Duration
	RampRate    int
	StartUsers  int           // the first probe (0: automatic)
	TimeBudget  time.Duration // 0: 15 minutes, or 30 for simulative users
	Strategy    string
	Users       string // "noop" (one request, then 1 s), "script" (the same, as a Starlark script) or "simulative" (Mattermost users)
	// Teams is how many teams simulative users are spread over (0: mattermost-load-test-ng's 2). Each user
	// is in its team's town square, so a post there wakes every member: more teams, smaller
	// herds.
	Teams int
	// Precision ends the search when the bracket is narrower than this share of its lower
	// end (0: the coordinator's 2 %).
	Precision  float64
	ResultsDir string // the report goes to ResultsDir/demo-<time>
	Log        *slog.Logger
	// UI, if set, serves the search's live view (web.ServeRun) there while it runs.
	UI string
}

// DefaultUI is where --ui serves the live view unless given an address.
const DefaultUI = "127.0.0.1:8000"

// DefaultOptions finish in a few minutes on two cores: 4 workers x 10 ms is 400 requests/s,
// so noop users (one request, then a 1 s think time) at T = 100 ms number 400 x 1.1 = 440.
func DefaultOptions() Options {
	return Options{Workers: 4, ServiceTime: 10 * time.Millisecond, Threshold: 100 * time.Millisecond, MaxUsers: 2000,
		Hold: 10 * time.Second, Settle: 3 * time.Second, RampRate: 100,
		Strategy: "adaptive", Users: "noop", ResultsDir: "results"}
}

// The target and criterion simulative users get unless the flags say otherwise
// (ForSimulative). Their requests come in bursts (an action is one request or dozens), so
// the relative noise of a hold's throughput falls only as the square root of the requests
// it counts: on the noop users' target (400 requests/s at most, about 120 at a utilization
// of 0.3) an 80 s hold measured the workers' utilization to ±10 % (95 %), too coarse for
// ±3 % in users, and a search took 12 minutes or more. Ten times the target measures three
// times finer in the same hold (±4 %), and the agent, which now runs 5,000 simulative users
// on a core, has the room: the answer is about 2,000 users, spread over 20 teams of about
// 100 so that a post wakes a channel, not half of the agent (docs/benchmarks.md).
const (
	SimulativeWorkers     = 40
	SimulativeTeams       = 20
	SimulativeUtilization = 0.3
	SimulativeMaxUsers    = 6000
	SimulativePrecision   = 0.03 // the ±3 % the demo is judged by
	SimulativePosts       = 2000 // channels hold posts from the start, as a deployment's do
)

// ForSimulative fills the options simulative users get by default, for those that changed
// (a flag the user gave) does not report.
func (o *Options) ForSimulative(changed func(flag string) bool) {
	if o.Users != "simulative" {
		return
	}
	if !changed("workers") {
		o.Workers = SimulativeWorkers
	}
	if !changed("teams") {
		o.Teams = SimulativeTeams
	}
	if !changed("utilization") && !changed("latency-threshold") && !changed("threshold") {
		o.Utilization = SimulativeUtilization
	}
	if !changed("max-users") {
		o.MaxUsers = SimulativeMaxUsers
	}
	if !changed("precision") {
		o.Precision = SimulativePrecision
	}
}

// Limits returns the probes' maximum hold and the search's time budget, filling the zero
// options. Simulative users get twice the budget: their requests come in bursts (an action
// is a handful of calls or dozens), so their searches hold longer near the threshold. On
// the noop target they also needed 8 x 10 s holds (a 40 s mean of their throughput varied by
// 9 %); on the simulative target, ten times larger (ForSimulative), 4 x 10 s measure finer
// than 8 x 10 s did there, and the search ends in about half the time (docs/benchmarks.md).
func (o Options) Limits() (maxHold, budget time.Duration) {
	s := coordinator.SearchSettings{HoldSec: int(o.Hold.Seconds()), MaxHoldSec: int(o.MaxHold.Seconds())}
	if s.MaxHoldSec == 0 && o.Users == "simulative" && o.Workers < SimulativeWorkers {
		s.MaxHoldSec = 8 * s.HoldSec
	}
	budget = o.TimeBudget
	if budget == 0 {
		budget = 15 * time.Minute
		if o.Users == "simulative" {
			budget = 30 * time.Minute
		}
	}
	return time.Duration(s.MaxHold()) * time.Second, budget // MaxHold: 0 is the coordinator's 4 x HoldSec
}

// DemoScript is the scripted twin of the noop user: log in (signing up the first time),
// then GET /users/me and wait 1 s after each response, for ever.
const DemoScript = `
def main():
    name = "%s-script%d" % (agent_id, user_id)
    creds = {"login_id": name, "password": params["password"]}
    r = post("/api/v4/users/login", json=creds, name="login", expect=[200, 400, 401, 404])
    if r.status != 200:
        post("/api/v4/users", json={"username": name, "email": name + "@example.com", "password": creds["password"]}, name="sign up")
        r = post("/api/v4/users/login", json=creds, name="login")
    if not r.ok:
        fail("login: %s %s" % (r.status, r.body))
    auth = {"Authorization": "Bearer " + r.headers["token"]}
    while True:
        get("/api/v4/users/me", headers=auth, name="me")
        delay(1000)
`

// Truth is the users the capacity model supports for noop users: W (T + Z) / S, with Z the
// noop think time (the operational laws: at saturation X = W/S and R = N/X - Z).
func (o Options) Truth() float64 {
	return float64(o.Workers) * (o.Threshold.Seconds() + 1) / o.ServiceTime.Seconds()
}

// TruthMeasured is the users the capacity model supports for users whose behaviour is not
// known in advance: W/S x (T + Z), with each user's think time per request Z = 1/λ - R0
// measured over the passing probes (λ their requests per second per user, R0 their mean
// latency; passing probes queue little, so neither moves much with the users). 0 when no
// probe passed with throughput.
func (o Options) TruthMeasured(probes []search.Probe) (truth, lambda, r0 float64) {
	var users, reqs, latency float64
	for _, p := range probes {
		if p.Verdict == search.Pass && p.Throughput > 0 {
			users += float64(p.Users)
			reqs += p.Throughput
			latency += p.MeanLatency * p.Throughput
		}
	}
	if reqs == 0 {
		return 0, 0, 0
	}
	lambda, r0 = reqs/users, latency/reqs
	xmax := float64(o.Workers) / o.ServiceTime.Seconds()
	return xmax * (o.Threshold.Seconds() + 1/lambda - r0), lambda, r0
}

// UtilizationQuery is the workers' utilization from mmsim's metrics.
const UtilizationQuery = "sum(rate(mmsim_capacity_busy_seconds_total[1m])) / sum(mmsim_capacity_workers)"

// TruthUtilization is the users at which the workers are busy Utilization of the time. By
// the utilization law U = X·S/W, with X = N·λ(N), it is the N where N·λ(N) = U·W/S, and
// λ(N), each user's request rate at N users, is measured by the agents at every probe.
//
// Simulative users' rate grows with their number (each reacts to the others' posts), so λ
// is a line in N through the valid probes (passed or failed) within 25 % of the supported
// users: taking the rate at the supported users as if it held at the answer overestimates
// the answer by about 10 % (docs/benchmarks.md). Their rate also falls while they run, as
// their stores fill and fewer events send them to the server (docs/design.md), so the
// search's answer is about the target at its end. When the probes carry their times
// (Probe.At), the line's slope comes from a fit of λ = a + b·N + c·t, which keeps the
// drift out of the slope, and its level from the last RecentProbes of them, the ones that
// decided the answer: the truth as the search ended. Without times it is a plain line in
// N. When the probes do not give a line with a crossing (one user count, or a slope with no
// positive root), λ is their pooled rate, as for users whose rate does not move. It returns
// the answer and λ there; 0, 0 when no valid probe is near.
func (o Options) TruthUtilization(probes []search.Probe, supported int) (truth, lambda float64) {
	target := o.Utilization * float64(o.Workers) / o.ServiceTime.Seconds() // requests/s at U
	var near []search.Probe
	for _, p := range search.NearAnswer(probes, supported) {
		if p.Verdict != search.Invalid && p.Throughput > 0 {
			near = append(near, p)
		}
	}
	if len(near) == 0 {
		return 0, 0
	}
	if n, l, ok := drifting(near, target); ok {
		return n, l
	}
	var users, rates, holds []float64
	var userSec, reqs float64
	for _, p := range near {
		w, n := cmp.Or(p.HoldSec, 1), float64(p.Users)
		users, rates, holds = append(users, n), append(rates, p.Throughput/n), append(holds, w)
		userSec, reqs = userSec+w*n, reqs+w*p.Throughput
	}
	if slices.Min(users) < slices.Max(users) { // a line needs two user counts
		a, b := stat.LinearRegression(users, rates, holds, false)
		if n, l, ok := crossing(a, b, target); ok {
			return n, l
		}
	}
	lambda = reqs / userSec
	return target / lambda, lambda
}

// RecentProbes is how many of the last probes give the level of λ at the end of a search.
const RecentProbes = 3

// drifting is TruthUtilization for probes that carry their times: the slope of λ in N from
// search.FitRate (λ = a + b·N + c·t), the level from the last RecentProbes probes
// (their hold-weighted rate at their hold-weighted users), and the crossing of that line.
// ok is false when the fit is not possible or the line has no crossing.
func drifting(near []search.Probe, target float64) (n, lambda float64, ok bool) {
	fit, ok := search.FitRate(near) // ok needs four probes or more: RecentProbes are there
	if !ok {
		return 0, 0, false
	}
	recent := slices.Clone(near)
	slices.SortStableFunc(recent, func(p, q search.Probe) int { return cmp.Compare(p.At, q.At) })
	var hold, users, rate float64
	for _, p := range recent[len(recent)-RecentProbes:] {
		w := cmp.Or(p.HoldSec, 1)
		hold, users, rate = hold+w, users+w*float64(p.Users), rate+w*p.Throughput/float64(p.Users)
	}
	users, rate = users/hold, rate/hold
	return crossing(rate-fit.B*users, fit.B, target)
}

// crossing solves N·(a + b·N) = target: the first positive root, with λ = a + b·N > 0 there.
// ok is false when the line never reaches target.
func crossing(a, b, target float64) (n, lambda float64, ok bool) {
	switch disc := a*a + 4*b*target; {
	case b == 0 && a > 0:
		n = target / a
	case b != 0 && disc >= 0:
		n = (-a + math.Sqrt(disc)) / (2 * b)
	default:
		return 0, 0, false
	}
	lambda = a + b*n
	if !(n > 0) || !(lambda > 0) || math.IsInf(n, 0) {
		return 0, 0, false
	}
	return n, lambda, true
}

// Result is what the demo found.
type Result struct {
	Report    coordinator.Report
	Truth     float64
	ReportDir string
}

// Validate checks the options, naming the flag, the value and what is allowed.
func (o Options) Validate() error {
	switch {
	case o.Workers <= 0:
		return fmt.Errorf("--workers %d: must be > 0", o.Workers)
	case o.ServiceTime <= 0:
		return fmt.Errorf("--service-time %v: must be > 0", o.ServiceTime)
	case o.Threshold <= 0:
		return fmt.Errorf("--latency-threshold %v: must be > 0", o.Threshold)
	case o.Utilization < 0 || o.Utilization >= 1:
		return fmt.Errorf("--utilization %v: must be 0 (the --latency-threshold decides) or between 0 and 1", o.Utilization)
	case o.Strategy != "adaptive" && o.Strategy != "fixed-step":
		return fmt.Errorf(`--strategy %q: must be "adaptive" or "fixed-step"`, o.Strategy)
	case o.Users != "noop" && o.Users != "simulative" && o.Users != "script":
		return fmt.Errorf(`--type %q: must be "noop", "script" or "simulative"`, o.Users)
	case o.Hold < 2*time.Second:
		return fmt.Errorf("--hold %v: must be >= 2s", o.Hold)
	case o.Teams < 0 || o.Teams > 100:
		return fmt.Errorf("--teams %d: must be 0 (mattermost-load-test-ng's 2) to 100", o.Teams)
	case o.Teams != 0 && o.Users != "simulative":
		return fmt.Errorf("--teams %d: only simulative users work in teams (--type %q)", o.Teams, o.Users)
	case o.MaxHold != 0 && o.MaxHold < o.Hold:
		return fmt.Errorf("--max-hold %v: must be 0 (4 x --hold; 8 x for simulative users) or >= --hold (%v)", o.MaxHold, o.Hold)
	case o.TimeBudget < 0:
		return fmt.Errorf("--time-budget %v: must be 0 (15m; 30m for simulative users) or > 0", o.TimeBudget)
	case o.Precision < 0 || o.Precision >= 1:
		return fmt.Errorf("--precision %v: must be 0 (the coordinator's 2%%) or between 0 and 1", o.Precision)
	case o.MaxUsers <= 0:
		return fmt.Errorf("--max-users %d: must be > 0", o.MaxUsers)
	}
	return nil
}

// Run runs the demo and prints its progress and result to out.
func Run(ctx context.Context, o Options, out io.Writer) (Result, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sctx, stopServers := context.WithCancel(context.Background())
	defer stopServers()

	// The target: mmsim with the capacity model.
	mcfg := mmsim.DefaultConfig()
	mcfg.LogSettings.EnableConsole = false
	mcfg.Capacity = mmsim.CapacityConfig{Workers: o.Workers, ServiceTimeMs: float64(o.ServiceTime) / float64(time.Millisecond), Distribution: "constant"}
	mm, err := mmsim.New(mcfg, o.Log)
	if err != nil {
		return Result{}, err
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	wg.Go(func() { _ = mm.Serve(sctx, apiLn, nil) }) // its metrics are read in process (Gatherers)
	targetURL := "http://" + apiLn.Addr().String()
	if o.Users == "simulative" { // teams, channels and users for them to work in
		pop := agentconfig.DefaultConfig()
		pop.ConnectionConfiguration.ServerURL = targetURL
		pop.InstanceConfiguration.NumTeams = cmp.Or(o.Teams, pop.InstanceConfiguration.NumTeams)
		pop.InstanceConfiguration.NumPosts = SimulativePosts
		if _, err := populate.Run(ctx, populate.Options{Instance: pop.InstanceConfiguration, Connection: pop.ConnectionConfiguration,
			AgentID: "demo", Seed: 1, Out: io.Discard, Log: o.Log}); err != nil {
			return Result{}, fmt.Errorf("demo: populate mmsim: %w", err)
		}
	} else if err := createTeam(ctx, targetURL, mcfg); err != nil {
		return Result{}, err
	}

	// The agent, in process: the coordinator drives it and its engine reads its metrics
	// without a port.
	srv := agent.NewServer(agent.ServerOptions{Log: o.Log})
	defer srv.Shutdown(context.Background())

	lt := agentconfig.DefaultConfig()
	lt.ConnectionConfiguration.ServerURL = targetURL
	lt.ConnectionConfiguration.WebSocketURL = "ws://" + apiLn.Addr().String()
	lt.ConnectionConfiguration.MaxIdleConns = o.MaxUsers
	lt.ConnectionConfiguration.MaxIdleConnsPerHost = o.MaxUsers
	lt.UserControllerConfiguration.Type = o.Users
	if o.Users == "script" {
		lt.UserControllerConfiguration.Script.Scripts = []agentconfig.ScriptSpec{{Name: "demo", Source: DemoScript,
			Params: map[string]any{"password": controller.Password}}}
	}
	lt.UsersConfiguration.MaxActiveUsers = o.MaxUsers
	lt.LogSettings.EnableConsole = false

	cfg := coordinator.DefaultConfig()
	cfg.ClusterConfig.Agents = []coordinator.AgentConfig{{Id: "demo"}}
	cfg.ClusterConfig.MaxActiveUsers = o.MaxUsers
	cfg.MonitorConfig.Queries[0].Threshold = o.Threshold.Seconds()
	criterion := fmt.Sprintf("mean-latency threshold %v", o.Threshold)
	if o.Utilization > 0 {
		qs := []coordinator.Query{{Description: "Workers' utilization", Query: UtilizationQuery, Threshold: o.Utilization, Alert: true}}
		for _, q := range cfg.MonitorConfig.Queries {
			if strings.Contains(q.Query, "failures_total") { // the server errors and the timeouts
				qs = append(qs, q)
			}
		}
		cfg.MonitorConfig.Queries = qs
		criterion = fmt.Sprintf("utilization threshold %v", o.Utilization)
	}
	cfg.Search.Strategy = o.Strategy
	if o.Precision > 0 {
		cfg.Search.Precision = o.Precision
	}
	cfg.Search.HoldSec = int(o.Hold.Seconds())
	maxHold, budget := o.Limits()
	cfg.Search.MaxHoldSec = int(maxHold.Seconds())
	cfg.Search.SettleSec = int(o.Settle.Seconds())
	cfg.Search.RampRate = o.RampRate
	cfg.Search.StartUsers = o.StartUsers
	cfg.Search.TimeBudgetSec = int(budget.Seconds())
	cfg.LogSettings.EnableConsole = false

	truth := o.Truth()
	who := map[string]string{"noop": "noop users (1 s think time)", "simulative": "simulative users",
		"script": "scripted users (a Starlark script: GET /users/me, then 1 s)"}[o.Users]
	fmt.Fprintf(out, "demo: mmsim on %s with %d workers x %v (at most %.0f requests/s); %s; %s\n",
		targetURL, o.Workers, o.ServiceTime, float64(o.Workers)/o.ServiceTime.Seconds(), who, criterion)
	switch {
	case o.Utilization > 0:
		fmt.Fprintf(out, "demo: the model's answer is where N·λ(N) = U x W/S, with the users' request rate λ(N) measured at the probes near the answer (its level at the last three); searching (%s, hold %v, up to %v near the threshold)...\n", o.Strategy, o.Hold, maxHold)
	case o.Users != "simulative":
		fmt.Fprintf(out, "demo: the model supports W(T+Z)/S = %.0f users; searching (%s, hold %v, up to %v near the threshold)...\n", truth, o.Strategy, o.Hold, maxHold)
	default:
		fmt.Fprintf(out, "demo: the model's answer, W/S x (T + 1/λ - R0), comes from the users' request rate λ measured over the passing probes; searching (%s, hold %v, up to %v near the threshold)...\n", o.Strategy, o.Hold, maxHold)
	}
	c, err := coordinator.New(&cfg, lt, coordinator.Options{Log: o.Log, Progress: out,
		Agents: []cluster.Agent{srv.LoadTest("demo")}, Gatherers: map[string]prometheus.Gatherer{"mmsim": mm.Registry()}})
	if err != nil {
		return Result{}, err
	}
	dir := filepath.Join(o.ResultsDir, "demo-"+time.Now().Format("20060102-150405"))
	if o.UI != "" {
		link, done, stop, err := web.ServeRun(o.UI, c, web.KindSearch, "demo: "+o.Users+" users", o.ResultsDir, dir)
		if err != nil {
			return Result{}, fmt.Errorf("--ui %s: %w", o.UI, err)
		}
		defer stop()
		defer done()
		fmt.Fprintf(out, "demo: live view on %s\n", link)
	}
	if err := c.Run(ctx); err != nil {
		return Result{}, err
	}
	if ctx.Err() != nil { // said here, not as ctx ends: the search writes to out until Run returns
		fmt.Fprintln(out, "demo: interrupted; the search stopped, writing the report")
	}
	rep := c.Report()
	switch {
	case o.Utilization > 0:
		var lambda float64
		truth, lambda = o.TruthUtilization(rep.Probes, rep.SupportedUsers)
		rep.Extra["model"] = fmt.Sprintf("mmsim %d workers x %v, %s users' request rate fitted over the probes near the answer, at its level over the last three: %.3f requests/s each there, utilization <= %v",
			o.Workers, o.ServiceTime, o.Users, lambda, o.Utilization)
	case o.Users != "simulative":
		rep.Extra["model"] = fmt.Sprintf("mmsim %d workers x %v, %s users with 1 s think time, mean latency <= %v", o.Workers, o.ServiceTime, o.Users, o.Threshold)
	default:
		var lambda, r0 float64
		truth, lambda, r0 = o.TruthMeasured(rep.Probes)
		rep.Extra["model"] = fmt.Sprintf("mmsim %d workers x %v, simulative users measured at %.3f requests/s each with a mean latency of %.1f ms over the passing probes, mean latency <= %v",
			o.Workers, o.ServiceTime, lambda, 1000*r0, o.Threshold)
	}
	rep.Extra["model_supported_users"] = math.Round(truth*10) / 10
	if err := rep.Write(dir); err != nil {
		return Result{}, fmt.Errorf("write the report: %w", err)
	}
	res := Result{Report: rep, Truth: truth, ReportDir: dir}
	if rep.Error != "" {
		return res, errors.New(rep.Error)
	}
	model := "the model has no answer (no passing probe measured the users' request rate)"
	found := fmt.Sprintf("found %d users", rep.SupportedUsers)
	switch {
	case rep.Outcome != coordinator.Answered: // a lower bound: no error to score
		found = fmt.Sprintf("no answer (%s): %d users passed", rep.Outcome, rep.SupportedUsers)
		if truth > 0 {
			model = fmt.Sprintf("the model says %.0f", truth)
		}
	case truth > 0:
		model = fmt.Sprintf("the model says %.0f (%+.1f%%)", truth, 100*(float64(rep.SupportedUsers)-truth)/truth)
	}
	fmt.Fprintf(out, "demo: %s (bracket [%d, %d), knee %d) in %v; %s\n",
		found, rep.Bracket[0], rep.Bracket[1], rep.Knee, rep.StopTime.Sub(rep.StartTime).Round(time.Second), model)
	fmt.Fprintf(out, "demo: report: %s, %s\n", filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html"))
	fmt.Fprintln(out, rep.Answer())
	return res, nil
}

// createTeam makes the open team the users join.
func createTeam(ctx context.Context, url string, cfg mmsim.Config) error {
	c, err := mattermost.New(url, mattermost.Options{})
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	if _, err := c.Login(ctx, cfg.Admin.Username, cfg.Admin.Password); err != nil {
		return fmt.Errorf("demo: admin login: %w", err)
	}
	if _, err := c.CreateTeam(ctx, "demo", "Demo", "O"); err != nil {
		return fmt.Errorf("demo: create team: %w", err)
	}
	return nil
}
