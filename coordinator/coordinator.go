package coordinator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/monitor"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/internal/promengine"
	"github.com/loadtest/loadtest/internal/usermetrics"
)

// State is the coordinator's lifecycle state.
type State int

// States: a coordinator runs once.
const (
	Stopped State = iota
	Running
	Done
)

var stateNames = [...]string{"stopped", "running", "done"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// MarshalJSON returns the state's name.
func (s State) MarshalJSON() ([]byte, error) {
	if int(s) >= len(stateNames) || s < 0 {
		return nil, ErrInvalidState
	}
	return []byte(`"` + stateNames[s] + `"`), nil
}

// UnmarshalJSON reads a state's name.
func (s *State) UnmarshalJSON(b []byte) error {
	for i, n := range stateNames {
		if string(b) == `"`+n+`"` {
			*s = State(i)
			return nil
		}
	}
	return ErrInvalidState
}

// Errors of the seed's API.
var (
	ErrNotRunning   = errors.New("coordinator is not running")
	ErrNotStopped   = errors.New("coordinator has not stopped")
	ErrAlreadyDone  = errors.New("coordinator is already done")
	ErrInvalidState = errors.New("unknown state")
)

// Status is the coordinator's status: the seed's fields, then the search's.
type Status struct {
	State          State
	StartTime      time.Time
	StopTime       time.Time
	ActiveUsers    int
	NumErrors      int64
	SupportedUsers int
	Phase          string // what the search is doing: ramp, settle, hold, done...
	Bracket        [2]int // [last pass, first fail) so far
	Probes         int
	Message        string // the last decision's reason
}

// Options are the parts New can be given instead of building them from the config.
type Options struct {
	Log      *slog.Logger
	Progress io.Writer // progress lines; nil: none
	// Agents, if set, are driven instead of clients of ClusterConfig.Agents' ApiURLs (an
	// in-process agent, say). The embedded engine still scrapes ApiURL/metrics.
	Agents []cluster.Agent
	// Querier, if set, answers the queries instead of PrometheusURL or the embedded engine.
	Querier monitor.Querier
	// AgentToken is the bearer token for the agents' APIs and /metrics.
	AgentToken string
	// Joiner, if set, adds the agents that join (loadtest server --join) to the configured
	// ones; each is taken into the next step.
	Joiner *cluster.Joiner
	// MinAgents is how many agents must have joined before the run starts (default 1 when
	// no agents are configured, else 0).
	MinAgents int
	// Gatherers are in-process targets the embedded engine reads by job name, besides the
	// agents and MonitorConfig.ScrapeTargets (a target in the same process, the demo's
	// mmsim, needs no port). An Agent that has a Gatherer method (agent.Local) is read so
	// too, instead of over its ApiURL.
	Gatherers map[string]prometheus.Gatherer
	// Preflight, if set, is checked after the agents and the monitor and before any user
	// starts (cmd/coordinator: a user of the agent config logs in and joins a team); its
	// error ends the search with no answer, and the report says why.
	Preflight func(ctx context.Context) error
	// Writers receive a plan's periods as they end (writer.Open makes them from the plan's
	// Writers); the caller closes them after Run.
	Writers []plan.Writer
}

// Coordinator drives a cluster of agents to find the supported users.
type Coordinator struct {
	cfg  Config
	lt   agentconfig.Config
	opts Options
	log  *slog.Logger
	out  io.Writer
	cl   *cluster.Cluster
	job  job // the capacity search or a plan

	joinedGen map[string]uint64         // the loop's: the joined connections taken in
	starting  int                       // the loop's: users starting on the agents at the last tick
	lastFault string                    // the loop's: the last workload-side failure the agents reported
	addScrape func(t promengine.Target) // the loop's: scrape a joined agent (nil: no embedded engine)

	mu      sync.Mutex
	status  Status             // guarded by mu
	report  Report             // guarded by mu
	stop    context.CancelFunc // guarded by mu: ends the running Run's context (Stop)
	stopped chan struct{}      // guarded by mu: closed when the running Run returns
	obs     []Observation      // guarded by mu: the ticks, for the live views
	seq     int                // guarded by mu: the last observation's Seq
	values  []float64          // guarded by mu: the queries' values at the last probe
	changed chan struct{}      // guarded by mu: closed and replaced on every change
	// setUsers is a plan's user count set during the run (SetUsers); -1: the plan's own.
	setUsers int // guarded by mu
	maxUsers int // the most users the agents take (a plan's SetUsers limit)
}

// New checks the configs and builds a coordinator; it contacts no agent until Run.
func New(cfg *Config, ltConfig agentconfig.Config, opts Options) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ltConfig.Validate(); err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	out := opts.Progress
	if out == nil {
		out = io.Discard
	}
	agents := opts.Agents
	if agents == nil {
		for i, a := range cfg.ClusterConfig.Agents {
			c, err := api.NewClient(a.ApiURL, api.ClientOptions{Token: cmp.Or(a.Token, opts.AgentToken)})
			if err != nil {
				return nil, fmt.Errorf("ClusterConfig.Agents[%d].ApiURL: %w", i, err)
			}
			agents = append(agents, c.LoadTest(a.Id))
		}
	}
	if len(agents) == 0 && opts.Joiner == nil {
		return nil, ErrNoAgents
	}
	if opts.Joiner != nil && opts.MinAgents == 0 && len(agents) == 0 {
		opts.MinAgents = 1
	}
	perAgent := ltConfig.UsersConfiguration.MaxActiveUsers
	if total := perAgent * len(agents); opts.Joiner == nil && cfg.ClusterConfig.MaxActiveUsers > total {
		return nil, fmt.Errorf("ClusterConfig.MaxActiveUsers: %d is more than the %d agents can run (%d each, UsersConfiguration.MaxActiveUsers)",
			cfg.ClusterConfig.MaxActiveUsers, len(agents), perAgent)
	}
	c := &Coordinator{cfg: *cfg, lt: ltConfig, opts: opts, log: opts.Log, out: out, changed: make(chan struct{}), job: searchJob{}}
	c.setUsers, c.maxUsers = -1, perAgent*max(1, len(agents))
	c.cl = cluster.New(agents, ltConfig, opts.Log)
	c.report = newReport(c.cfg, ltConfig)
	return c, nil
}

// Run runs the search (or the plan) in the calling goroutine until it ends: answered, failed,
// or stopped because ctx was done or Stop was called. Status and Report then hold the result,
// and Report().Outcome says how it ended; an error is returned only when the coordinator
// cannot run (ErrNotStopped: it is running; ErrAlreadyDone: it ran). The caller owns the
// cancellation: cancel ctx to stop it, or call Stop from another goroutine. Watch it
// meanwhile with Status and Report (snapshots, safe to call at any time).
func (c *Coordinator) Run(ctx context.Context) error {
	c.mu.Lock()
	switch c.status.State {
	case Running:
		c.mu.Unlock()
		return ErrNotStopped
	case Done:
		c.mu.Unlock()
		return ErrAlreadyDone
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.stop, c.stopped = cancel, make(chan struct{})
	c.status.State, c.status.StartTime = Running, time.Now()
	c.report.StartTime = c.status.StartTime
	stopped := c.stopped
	c.mu.Unlock()
	defer close(stopped)
	err := c.run(ctx)
	c.finish(err)
	return nil
}

// Stop ends a running search early and waits for Run to return; the report says what was
// found so far. It returns ErrNotRunning when no search runs.
func (c *Coordinator) Stop() error {
	c.mu.Lock()
	if c.status.State != Running {
		c.mu.Unlock()
		return ErrNotRunning
	}
	stop, stopped := c.stop, c.stopped
	c.mu.Unlock()
	stop()
	<-stopped
	return nil
}

// Status returns the coordinator's status.
func (c *Coordinator) Status() (Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, nil
}

// Report returns a copy of the report so far (complete once done).
func (c *Coordinator) Report() Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.report.clone()
}

func (c *Coordinator) printf(format string, args ...any) {
	fmt.Fprintf(c.out, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// job is what a run does with its agents: the capacity search (searchJob) or a plan
// (planJob). The Coordinator around it owns the lifecycle, the cluster, the status, the
// report and the observations; the job's loop fills them.
type job interface {
	// run checks, starts the agents (startAgents) and drives them until the job ends.
	run(ctx context.Context, c *Coordinator) error
	// finish completes the report after run returned err. c.mu is held.
	finish(c *Coordinator, err error)
}

// run waits for the agents that must join, then runs the job.
func (c *Coordinator) run(ctx context.Context) error {
	if j := c.opts.Joiner; j != nil && c.opts.MinAgents > 0 {
		c.printf("waiting for %d agents to join", c.opts.MinAgents)
		if err := j.Wait(ctx, c.opts.MinAgents); err != nil {
			return fmt.Errorf("waiting for agents to join: %w", err)
		}
	}
	return c.job.run(ctx, c)
}

// startAgents creates and runs the load test on every agent and takes in those that joined
// meanwhile; the shutdown it returns destroys them all.
func (c *Coordinator) startAgents(ctx context.Context) (shutdown func(), err error) {
	c.printf("starting the load test on %d agents", len(c.cl.Agents()))
	if err := c.cl.Start(ctx); err != nil {
		return nil, fmt.Errorf("start the agents: %w", err)
	}
	c.syncJoined(ctx)
	return c.shutdown, nil
}

// searchJob is the capacity search: it starts the monitor, checks it and the agents, and runs
// the strategy (adaptive or fixed-step).
type searchJob struct{}

func (searchJob) run(ctx context.Context, c *Coordinator) error {
	q := c.opts.Querier
	if q == nil && c.cfg.MonitorConfig.PrometheusURL != "" {
		var err error
		if q, err = monitor.NewPrometheusQuerier(c.cfg.MonitorConfig.PrometheusURL); err != nil {
			return err
		}
		c.printf("monitor: Prometheus at %s", c.cfg.MonitorConfig.PrometheusURL)
	} else if q == nil {
		eng, err := monitor.StartEmbedded(time.Duration(c.cfg.MonitorConfig.ScrapeIntervalMs)*time.Millisecond, c.log, c.scrapeTargets())
		if err != nil {
			return err
		}
		defer eng.Stop()
		q = eng
		c.addScrape = eng.AddTarget
		c.printf("monitor: embedded Prometheus engine scraping %d agents and %d more targets every %dms",
			len(c.cfg.ClusterConfig.Agents), len(c.cfg.MonitorConfig.ScrapeTargets), c.cfg.MonitorConfig.ScrapeIntervalMs)
	}
	if err := c.preflight(ctx, q); err != nil {
		return err
	}
	shutdown, err := c.startAgents(ctx)
	if err != nil {
		return err
	}
	defer shutdown()
	if c.cfg.Search.Strategy == "fixed-step" {
		return c.fixedStep(ctx, q)
	}
	return c.adaptive(ctx, q)
}

// scrapeTargets are what the embedded engine scrapes: the configured agents (in process
// when they have a Gatherer, else their ApiURL's /metrics), MonitorConfig.ScrapeTargets,
// and Options.Gatherers.
func (c *Coordinator) scrapeTargets() []promengine.Target {
	var ts []promengine.Target
	agents := c.cl.Agents()
	for i, a := range c.cfg.ClusterConfig.Agents {
		if i < len(agents) {
			if g, ok := agents[i].(interface{ Gatherer() prometheus.Gatherer }); ok {
				ts = append(ts, promengine.Target{Job: "loadtest-agents", URL: "inprocess://" + a.Id, Gatherer: g.Gatherer()})
				continue
			}
		}
		if a.ApiURL != "" {
			ts = append(ts, promengine.Target{Job: "loadtest-agents", URL: strings.TrimRight(a.ApiURL, "/") + "/metrics",
				Token: cmp.Or(a.Token, c.opts.AgentToken)})
		}
	}
	for _, t := range c.cfg.MonitorConfig.ScrapeTargets {
		ts = append(ts, promengine.Target{Job: t.Job, URL: t.URL})
	}
	for _, job := range slices.Sorted(maps.Keys(c.opts.Gatherers)) {
		ts = append(ts, promengine.Target{Job: job, URL: "inprocess://" + job, Gatherer: c.opts.Gatherers[job]})
	}
	return ts
}

// preflight checks, before any user starts, that every agent answers and runs this
// coordinator's version, and that the monitor answers a query. Each failure is one line.
func (c *Coordinator) preflight(ctx context.Context, q monitor.Querier) error {
	if err := c.cl.Preflight(ctx); err != nil {
		return err
	}
	if _, err := monitor.QueryWithin(ctx, q, monitor.LivenessQuery, time.Now()); err != nil {
		where := "the embedded engine"
		if u := c.cfg.MonitorConfig.PrometheusURL; u != "" {
			where = "Prometheus at " + u + " (MonitorConfig.PrometheusURL)"
		}
		return fmt.Errorf("preflight: the monitor, %s, does not answer a query: %w; no users were started", where, err)
	}
	if c.opts.Preflight != nil {
		return c.opts.Preflight(ctx)
	}
	return nil
}

// syncJoined takes the agents that joined (or joined again) since the last call into the
// cluster, with no users until the next step. It reports whether any came.
func (c *Coordinator) syncJoined(ctx context.Context) bool {
	j := c.opts.Joiner
	if j == nil {
		return false
	}
	if c.joinedGen == nil {
		c.joinedGen = map[string]uint64{}
	}
	changed := false
	for id, a := range j.Snapshot() {
		if c.joinedGen[id] == a.Gen {
			continue
		}
		c.joinedGen[id] = a.Gen
		if va, ok := a.Agent.(cluster.Versioned); ok {
			if v, err := va.Version(ctx); err == nil && !cluster.SameBuild(agent.BuildVersion(), v) {
				c.printf("agent %s joined but runs loadtest %s, the coordinator %s: it is not used (run the same version on both)", id, v, agent.BuildVersion())
				continue
			}
		}
		changed = true
		if err := c.cl.Adopt(ctx, a.Agent); err != nil {
			c.printf("agent %s joined but could not start: %v", id, err)
			continue
		}
		c.printf("agent %s joined; it takes part from the next step", id)
		if c.addScrape != nil {
			c.addScrape(promengine.Target{Job: "loadtest-agents", URL: api.JoinedURL(id) + "/metrics", Token: c.opts.AgentToken, Client: a.Client})
		}
	}
	return changed
}

// shutdown stops the agents' users and destroys their load tests.
func (c *Coordinator) shutdown() {
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.printf("stopping the agents' users")
	c.cl.Shutdown(sctx)
}

// finish freezes the status and the report.
func (c *Coordinator) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.State, c.status.StopTime = Done, time.Now()
	c.status.Phase = "done"
	c.report.StopTime = c.status.StopTime
	c.report.Agents = c.report.lastAgents
	c.job.finish(c, err)
	c.status.SupportedUsers = c.report.SupportedUsers
	c.notifyLocked()
}

func (searchJob) finish(c *Coordinator, err error) {
	switch {
	case errors.Is(err, context.Canceled):
		c.report.Outcome = Interrupted
		c.report.Reason = strings.TrimSuffix("stopped before an answer: "+c.report.Reason, ": ")
		c.passedSoFar()
	case err != nil:
		c.report.Outcome = NoAnswer
		c.report.Error, c.status.Message = err.Error(), err.Error()
		c.passedSoFar()
	case c.report.Outcome == "":
		c.report.Outcome = NoAnswer
	}
}

// passedSoFar sets the answer of a search that ended early to what it knew: the best pass
// below the lowest fail, as a lower bound (0: none passed). c.mu is held.
func (c *Coordinator) passedSoFar() {
	lo, hi := search.SoFar(search.DefaultConfig(c.cfg.ClusterConfig.MaxActiveUsers), c.report.Probes)
	c.report.SupportedUsers, c.report.Bracket, c.report.AtLeast = lo, [2]int{lo, hi}, true
	c.report.Knee = search.Knee(c.report.Probes)
}

// tick records one second of the cluster: status, metrics, the per-second series, and the
// observation the live views read.
func (c *Coordinator) tick(ctx context.Context, phase string, acc *cluster.Window) []string {
	c.syncJoined(ctx)
	o := c.cl.Observe(ctx)
	c.starting = o.Starting
	w := o.Window
	if w.Users.LastFault != "" {
		c.lastFault = w.Users.LastFault
	}
	if acc != nil {
		acc.Add(w)
	}
	n, mean := w.Requests()
	sec := Second{Time: o.Time, Users: o.Users, Phase: phase, Utilization: w.Utilization, MeanLatency: mean}
	if w.Seconds > 0 {
		sec.Throughput = float64(n) / w.Seconds
	}
	sec.P50, sec.P99 = w.Quantiles()
	sec.NoData = w.Seconds == 0
	keys := w.Hist.Summaries()
	c.mu.Lock()
	c.report.addKeys(len(c.report.Series), keys)
	c.status.ActiveUsers, c.status.NumErrors, c.status.Phase = o.Users, o.Errors, phase
	c.report.Series = append(c.report.Series, sec)
	c.report.Errors = usermetrics.MergeErrors(c.report.Errors, w.Errors)
	c.report.lastAgents = o.Agents
	c.observeLocked(sec, o, keys)
	c.mu.Unlock()
	return o.Problems
}

// hold waits d, ticking every second; it returns the agents' problems seen.
func (c *Coordinator) hold(ctx context.Context, d time.Duration, phase string, acc *cluster.Window) ([]string, error) {
	var problems []string
	end := time.Now().Add(d)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return problems, ctx.Err()
		case <-t.C:
			problems = append(problems, c.tick(ctx, phase, acc)...)
		}
	}
	return problems, nil
}

// ErrNoAgents says a coordinator has neither configured nor joined agents.
var ErrNoAgents = errors.New("ClusterConfig.Agents: no agents (list some, or let agents join with --join-listen)")
