package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/usermetrics"
)

// Cluster drives the agents of one run: it creates their load tests, shares the users
// among the ones that are up, takes back the ones that come back, and reads what they
// measured. Only the run's loop goroutine calls it.
type Cluster struct {
	agents  []Agent
	cfg     agentconfig.Config
	log     *slog.Logger
	timeout time.Duration // per agent call
	seq     uint64
	state   []agentState
	// reshare is set when an agent came or went, so the users may be shared again.
	reshare bool
}

// agentState is what the cluster knows of one agent.
type agentState struct {
	up      bool
	users   int    // the users it was last told to run
	max     int    // its MaxActiveUsers
	cursor  uint64 // metrics read up to here
	errBase int64  // NumErrors of its earlier incarnations, so the total never goes down
	lastErr int64
	problem string // why it is down
}

// AgentHealth is one agent's state, for the status and the report.
type AgentHealth struct {
	ID          string  `json:"id"`
	Up          bool    `json:"up"`
	Users       int     `json:"users"`
	Utilization float64 `json:"utilization"`
	CPU         float64 `json:"cpu"` // the utilization's parts: CPU share and schedule lag share
	Lag         float64 `json:"lag"`
	NumErrors   int64   `json:"num_errors"`
	Starting    int     `json:"starting"` // users in their start-up sequence
	Problem     string  `json:"problem,omitempty"`
}

func New(agents []Agent, cfg agentconfig.Config, log *slog.Logger) *Cluster {
	return &Cluster{agents: agents, cfg: cfg, log: log, timeout: 30 * time.Second, state: make([]agentState, len(agents))}
}

// each runs f on every agent concurrently, with the per-call timeout, and returns the errors
// by agent index.
func (c *Cluster) each(ctx context.Context, f func(ctx context.Context, i int, a Agent) error) []error {
	errs := make([]error, len(c.agents))
	var wg sync.WaitGroup
	for i, a := range c.agents {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			errs[i] = f(cctx, i, a)
		})
	}
	wg.Wait()
	return errs
}

// Start creates and runs the load test on every agent (replacing a leftover one with the same
// id). Every agent must start.
func (c *Cluster) Start(ctx context.Context) error {
	errs := c.each(ctx, func(ctx context.Context, i int, a Agent) error {
		return c.bringUp(ctx, i, a)
	})
	var all []error
	for i, err := range errs {
		if err != nil {
			all = append(all, fmt.Errorf("agent %s: %w", c.agents[i].ID(), err))
		}
	}
	return errors.Join(all...)
}

// Versioned is an agent that says which build it runs (agent.Local and api.Remote).
type Versioned interface {
	Version(ctx context.Context) (agent.Version, error)
}

// Preflight checks that every agent answers and runs the coordinator's build (a different
// one may speak another API or export other metrics). One error names every agent that
// failed.
func (c *Cluster) Preflight(ctx context.Context) error {
	mine := agent.BuildVersion()
	errs := c.each(ctx, func(ctx context.Context, i int, a Agent) error {
		va, ok := a.(Versioned)
		if !ok {
			_, err := a.Status(ctx)
			if errors.Is(err, agent.ErrNotFound) { // it answers; the load test is not created yet
				err = nil
			}
			return err
		}
		v, err := va.Version(ctx)
		if err != nil {
			return err
		}
		if !SameBuild(mine, v) {
			return fmt.Errorf("it runs loadtest %s, the coordinator %s: run the same version on both", v, mine)
		}
		return nil
	})
	var all []error
	for i, err := range errs {
		if err != nil {
			all = append(all, fmt.Errorf("preflight: agent %s: %w; no users were started", c.agents[i].ID(), err))
		}
	}
	return errors.Join(all...)
}

// SameBuild says whether two builds are the same as far as they tell: module versions must
// match unless one is a development build, and commits must match when both are known.
func SameBuild(a, b agent.Version) bool {
	known := func(v string) bool { return v != "" && v != "(devel)" }
	if known(a.Version) && known(b.Version) && a.Version != b.Version {
		return false
	}
	return a.Commit == "" || b.Commit == "" || a.Commit == b.Commit
}

// bringUp creates and starts the load test on agent i, with no users.
func (c *Cluster) bringUp(ctx context.Context, i int, a Agent) error {
	cfg := c.cfg
	cfg.UsersConfiguration.InitialActiveUsers = 0
	err := a.Create(ctx, cfg)
	if errors.Is(err, agent.ErrConflict) { // a leftover from an earlier run
		if err := a.Destroy(ctx); err != nil {
			return err
		}
		err = a.Create(ctx, cfg)
	}
	if err != nil {
		return err
	}
	st, err := a.Run(ctx)
	if err != nil {
		return err
	}
	s := &c.state[i]
	s.up, s.users, s.max, s.cursor, s.problem = true, 0, st.MaxActiveUsers, st.MetricsCursor, ""
	s.errBase += s.lastErr
	s.lastErr = 0
	return nil
}

// Adopt takes a joined agent into the cluster: a new one is added, one that joined again
// replaces its old connection; either is brought up with no users (the next setUsers gives
// it its share).
func (c *Cluster) Adopt(ctx context.Context, a Agent) error {
	i := slices.IndexFunc(c.agents, func(x Agent) bool { return x.ID() == a.ID() })
	if i < 0 {
		c.agents = append(c.agents, a)
		c.state = append(c.state, agentState{})
		i = len(c.agents) - 1
	} else {
		c.agents[i] = a
		c.state[i].up, c.state[i].users = false, 0
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.bringUp(cctx, i, a); err != nil {
		c.state[i].problem = err.Error()
		return err
	}
	c.reshare = true
	return nil
}

// Recover tries to take back agents that are down: one that restarted (its load test is
// gone) is created again. It returns how many are up.
func (c *Cluster) Recover(ctx context.Context) int {
	c.each(ctx, func(ctx context.Context, i int, a Agent) error {
		if c.state[i].up {
			return nil
		}
		st, err := a.Status(ctx)
		switch {
		case errors.Is(err, agent.ErrNotFound):
			if err := c.bringUp(ctx, i, a); err != nil {
				c.state[i].problem = err.Error()
				return err
			}
			c.log.Info("agent is back; its load test was created again", "agent", a.ID())
		case err != nil:
			c.state[i].problem = err.Error()
		default: // it answers and kept its load test
			c.state[i].up, c.state[i].problem = true, ""
			c.state[i].cursor = st.MetricsCursor
			c.log.Info("agent is back", "agent", a.ID())
		}
		return nil
	})
	n := 0
	for _, s := range c.state {
		if s.up {
			n++
		}
	}
	return n
}

// split shares n users among the agents that are up, evenly, within each one's
// MaxActiveUsers. It returns the shares by agent index.
func split(n int, up []bool, maxes []int) []int {
	out := make([]int, len(up))
	for n > 0 {
		best := -1
		for i := range up {
			if up[i] && out[i] < maxes[i] && (best < 0 || out[i] < out[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		out[best]++
		n--
	}
	return out
}

// SetUsers makes n users active across the agents that are up. It returns the problems
// (agents that failed and were marked down).
func (c *Cluster) SetUsers(ctx context.Context, n int) []string {
	up := make([]bool, len(c.agents))
	maxes := make([]int, len(c.agents))
	for i, s := range c.state {
		up[i], maxes[i] = s.up, s.max
	}
	shares := split(n, up, maxes)
	c.seq++
	seq := c.seq
	errs := c.each(ctx, func(ctx context.Context, i int, a Agent) error {
		if !c.state[i].up {
			return nil
		}
		_, err := a.SetUsers(ctx, shares[i], seq)
		if err == nil {
			c.state[i].users = shares[i]
		}
		return err
	})
	return c.markDown(errs)
}

func (c *Cluster) markDown(errs []error) []string {
	var problems []string
	for i, err := range errs {
		if err == nil {
			continue
		}
		s := &c.state[i]
		if s.up {
			c.log.Warn("agent failed; its users are lost until it is back", "agent", c.agents[i].ID(), "users", s.users, "err", err)
			c.reshare = true
		}
		s.up, s.users, s.problem = false, 0, err.Error()
		problems = append(problems, fmt.Sprintf("agent %s: %v", c.agents[i].ID(), err))
	}
	return problems
}

// status returns the agents' health and the cluster's total users and errors.
func (c *Cluster) status(ctx context.Context) ([]AgentHealth, int, int64, []string) {
	sts := make([]agent.Status, len(c.agents))
	errs := c.each(ctx, func(ctx context.Context, i int, a Agent) error {
		if !c.state[i].up {
			return nil
		}
		var err error
		sts[i], err = a.Status(ctx)
		return err
	})
	problems := c.markDown(errs)
	out := make([]AgentHealth, len(c.agents))
	users, numErr := 0, int64(0)
	for i, a := range c.agents {
		s := &c.state[i]
		if s.up {
			if sts[i].NumErrors < s.lastErr { // it restarted
				s.errBase += s.lastErr
			}
			s.lastErr = sts[i].NumErrors
			users += sts[i].ActiveUsers
		}
		out[i] = AgentHealth{ID: a.ID(), Up: s.up, Users: sts[i].ActiveUsers, Utilization: sts[i].Utilization,
			CPU: sts[i].CPU, Lag: sts[i].Lag, NumErrors: s.errBase + s.lastErr, Starting: sts[i].UsersStarting, Problem: s.problem}
		numErr += s.errBase + s.lastErr
	}
	return out, users, numErr, problems
}

// Observation is one tick of the cluster: the agents' status and the metrics intervals
// they closed since the last tick, merged.
type Observation struct {
	Time     time.Time
	Agents   []AgentHealth
	Users    int      // active users, summed over the agents that are up
	Errors   int64    // user sessions that ended with an error, over the run
	Starting int      // users in their start-up sequence now, summed
	Window   Window   // the intervals closed since the last tick
	Problems []string // agents that failed during the tick (they are marked down)
}

// Observe reads every agent's status and the intervals it closed since the last call.
func (c *Cluster) Observe(ctx context.Context) Observation {
	health, users, errs, p1 := c.status(ctx)
	w, p2 := c.drain(ctx)
	o := Observation{Time: time.Now(), Agents: health, Users: users, Errors: errs, Window: w, Problems: append(p1, p2...)}
	for _, h := range health {
		o.Starting += h.Starting
	}
	return o
}

// Agents returns the agents driven, configured and joined.
func (c *Cluster) Agents() []Agent { return slices.Clone(c.agents) }

// Users returns the users the agents were last told to run, summed.
func (c *Cluster) Users() int {
	n := 0
	for _, s := range c.state {
		n += s.users
	}
	return n
}

// Problem returns why the first agent that is down is down ("" when all are up).
func (c *Cluster) Problem() string {
	for _, s := range c.state {
		if !s.up {
			return s.problem
		}
	}
	return ""
}

// TakeReshare reports whether an agent came or went since the last call, so the users
// may be shared again.
func (c *Cluster) TakeReshare() bool {
	r := c.reshare
	c.reshare = false
	return r
}

// Window is what the agents measured over some intervals, merged.
type Window struct {
	Hist        histogram.Snapshot // the intervals' histograms, merged exactly
	Seconds     float64            // the longest span any agent covered
	Utilization float64            // the highest any agent reported
	Missed      uint64             // intervals an agent no longer had when asked
	Counters    map[string]int64   // scripts' counters, summed
	// AgentSeconds is each agent's utilization, second by second (interval by interval),
	// in its two parts: what Load judges.
	AgentSeconds map[string][]usermetrics.Sample
	Users        usermetrics.Health       // the users' actions, sessions and failures, summed; Starting: the latest, over all agents
	Errors       []usermetrics.ErrorGroup // failed requests by route, status and reason, summed
}

// Add merges o into w.
func (w *Window) Add(o Window) {
	if w.Hist == nil {
		w.Hist = histogram.Snapshot{}
	}
	w.Hist.Merge(o.Hist)
	w.Seconds += o.Seconds
	w.Utilization = max(w.Utilization, o.Utilization)
	w.Missed += o.Missed
	w.Users.Add(o.Users)
	w.Errors = usermetrics.MergeErrors(w.Errors, o.Errors)
	for k, n := range o.Counters {
		if w.Counters == nil {
			w.Counters = map[string]int64{}
		}
		w.Counters[k] += n
	}
	for k, ss := range o.AgentSeconds {
		if w.AgentSeconds == nil {
			w.AgentSeconds = map[string][]usermetrics.Sample{}
		}
		w.AgentSeconds[k] = append(w.AgentSeconds[k], ss...)
	}
}

// sampleOf is an interval's utilization in its parts. An agent that reports only the whole
// (one older than the parts) has it counted as CPU.
func sampleOf(iv agent.Interval) usermetrics.Sample {
	if iv.CPU == 0 && iv.Lag == 0 {
		return usermetrics.Sample{CPU: iv.Utilization}
	}
	return usermetrics.Sample{CPU: iv.CPU, Lag: iv.Lag}
}

// Loads returns each agent's load over w, by agent id, judged against limit second by second.
func (w Window) Loads(limit float64) []search.AgentLoad {
	var out []search.AgentLoad
	for _, id := range slices.Sorted(maps.Keys(w.AgentSeconds)) {
		ss := w.AgentSeconds[id]
		l := search.AgentLoad{Agent: id, Limit: limit}
		over := 0
		for _, s := range ss {
			l.CPU, l.Lag, l.Max = max(l.CPU, s.CPU), max(l.Lag, s.Lag), max(l.Max, s.Value())
			if s.Value() > limit {
				over++
			}
		}
		if len(ss) > 0 {
			l.OverShare = float64(over) / float64(len(ss))
		}
		out = append(out, l)
	}
	return out
}

// Load returns the busiest agent's load over w: the one with the largest share of seconds
// above limit, then the highest utilization.
func (w Window) Load(limit float64) search.AgentLoad {
	worst := search.AgentLoad{Limit: limit}
	for _, l := range w.Loads(limit) {
		if worst.Agent == "" || l.OverShare > worst.OverShare || (l.OverShare == worst.OverShare && l.Max > worst.Max) {
			worst = l
		}
	}
	return worst
}

// drain reads every up agent's metrics intervals since its cursor and merges them.
func (c *Cluster) drain(ctx context.Context) (Window, []string) {
	pages := make([]agent.MetricsPage, len(c.agents))
	errs := c.each(ctx, func(ctx context.Context, i int, a Agent) error {
		if !c.state[i].up {
			return nil
		}
		var err error
		pages[i], err = a.Metrics(ctx, c.state[i].cursor)
		return err
	})
	problems := c.markDown(errs)
	w := Window{Hist: histogram.Snapshot{}, AgentSeconds: map[string][]usermetrics.Sample{}}
	for i, p := range pages {
		if errs[i] != nil || !c.state[i].up {
			continue
		}
		c.state[i].cursor = p.Cursor
		w.Missed += p.Missed
		span := 0.0
		id := c.agents[i].ID()
		var h usermetrics.Health
		for _, iv := range p.Intervals {
			h.Add(iv.Users)
			w.Errors = usermetrics.MergeErrors(w.Errors, iv.Errors)
			w.Hist.Merge(iv.Histograms)
			span += iv.End.Sub(iv.Start).Seconds()
			w.Utilization = max(w.Utilization, iv.Utilization)
			w.AgentSeconds[id] = append(w.AgentSeconds[id], sampleOf(iv))
			for k, n := range iv.Counters {
				if w.Counters == nil {
					w.Counters = map[string]int64{}
				}
				w.Counters[k] += n
			}
		}
		w.Seconds = max(w.Seconds, span)
		starting, broken := w.Users.Starting+h.Starting, w.Users.Broken+h.Broken
		w.Users.Add(h)
		w.Users.Starting, w.Users.Broken = starting, broken // over agents, a sum
	}
	return w, problems
}

// Requests returns the count and mean latency (seconds) of all requests in a window.
func (w Window) Requests() (int64, float64) {
	n, mean := w.Totals(usermetrics.RoutePrefix)
	return n, mean.Seconds()
}

// Actions returns the count and mean duration of the users' actions in a Window (the ones
// that ran: skipped actions are not measured).
func (w Window) Actions() (int64, time.Duration) { return w.Totals(usermetrics.ActionPrefix) }

// Totals returns the count and mean duration of every series whose key has prefix.
func (w Window) Totals(prefix string) (int64, time.Duration) {
	var n int64
	sum := 0.0
	for k, s := range w.Hist {
		if strings.HasPrefix(k, prefix) {
			c := s.Hist.TotalCount()
			n += c
			sum += s.Hist.Mean() * float64(c)
		}
	}
	if n == 0 {
		return 0, 0
	}
	return n, time.Duration(sum / float64(n) * float64(time.Microsecond))
}

// Shutdown destroys every load test (users log out).
func (c *Cluster) Shutdown(ctx context.Context) {
	c.each(ctx, func(ctx context.Context, i int, a Agent) error {
		if err := a.Destroy(ctx); err != nil && !errors.Is(err, agent.ErrNotFound) {
			c.log.Warn("destroy load test", "agent", a.ID(), "err", err)
		}
		return nil
	})
}

// Quantiles returns the p50 and p99 of all requests in a window, in seconds.
func (w Window) Quantiles() (float64, float64) {
	s, ok := w.Hist.Merged(usermetrics.RoutePrefix)
	if !ok || s.Hist.TotalCount() == 0 {
		return 0, 0
	}
	return float64(s.Hist.ValueAtQuantile(50)) / 1e6, float64(s.Hist.ValueAtQuantile(99)) / 1e6
}
