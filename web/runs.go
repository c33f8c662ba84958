// Package web is the coordinator's web layer, above package coordinator: a JSON API that
// creates, starts, stops, lists and deletes capacity searches and plans, streams a run's
// observations as server-sent events, serves past runs from the results folder, compares
// two runs, and the UI (embedded in the binary: no CDN, works offline). The coordinator
// itself holds no handler for it: the search reads the same without the web around it.
package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/internal/app/planrun"
	"github.com/loadtest/loadtest/internal/app/searchrun"
	"github.com/loadtest/loadtest/internal/config"
)

// Kinds of run.
const (
	KindSearch = "search"
	KindPlan   = "plan"
)

// Run states, besides the coordinator's own.
const (
	StateCreated  = "created"  // not started yet
	StateRunning  = "running"  // the coordinator runs
	StateDone     = "done"     // it ended; the report is written
	StateFinished = "finished" // a past run, read from the results folder
)

// Errors the API maps to status codes (see statusOf).
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

// Request is what POST /api/runs takes: a capacity search (Config, AgentConfig) or a plan
// (Plan, and Config for its agents). Config, AgentConfig and Plan have the config files'
// fields and defaults; a field not given keeps its default.
type Request struct {
	Kind        string          `json:"kind"` // "search" or "plan"
	Name        string          `json:"name,omitempty"`
	Config      json.RawMessage `json:"config,omitempty"`       // the coordinator config
	AgentConfig json.RawMessage `json:"agent_config,omitempty"` // the agent config (a search's)
	Plan        json.RawMessage `json:"plan,omitempty"`
	Start       bool            `json:"start,omitempty"` // start it at once
}

// Run is one search or plan the server created, or a past one from the results folder.
type Run struct {
	ID      string    `json:"id"` // also its folder under the results folder
	Kind    string    `json:"kind"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`

	c      *coordinator.Coordinator // nil for a past run
	start  func(ctx context.Context) error
	agents []string // "id at url": two runs driving one agent's load test would undo each other
	log    *progress

	mu      sync.Mutex
	state   string             // guarded by mu
	err     string             // guarded by mu: why it failed to run, if it did
	cancel  context.CancelFunc // guarded by mu: ends a running run
	done    chan struct{}      // closed when a started run has ended
	changed chan struct{}      // guarded by mu: closed and replaced when state changes
}

// Summary is a run as GET /api/runs lists it.
type Summary struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Name    string    `json:"name"`
	State   string    `json:"state"`
	Created time.Time `json:"created"`
	Error   string    `json:"error,omitempty"`
	// From the status (live) or the report (past):
	ActiveUsers    int                 `json:"active_users"`
	SupportedUsers int                 `json:"supported_users"`
	Bracket        [2]int              `json:"bracket"`
	Phase          string              `json:"phase,omitempty"`
	Outcome        coordinator.Outcome `json:"outcome,omitempty"`
	Answer         string              `json:"answer,omitempty"`
	Files          []string            `json:"files"` // in its folder: report.json, report.html, metrics.csv...
	Live           bool                `json:"live"`  // in this process (observations stream)
}

// Options configure a Server.
type Options struct {
	Results string       // the runs' folders go here, and past runs are read from here
	Token   string       // bearer token every API call must carry ("": none)
	Log     *slog.Logger // nil: discard
	// Joiner, if set, accepts agents that join (`coordinator serve --join-listen`); a run
	// whose config sets ClusterConfig.JoinListen (any value: the server's address is used)
	// takes them, besides its listed agents. JoinAddr is that address.
	Joiner   *cluster.Joiner
	JoinAddr string
	// ReadOnly refuses to create runs: the live view of a one-shot coordinator, whose process
	// ends with its own run.
	ReadOnly bool
}

// Server holds the runs of one coordinator process. Its methods are the API's operations;
// Handler serves them with the UI.
type Server struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	runs   map[string]*Run   // guarded by mu: created in this process
	dirs   map[string]string // guarded by mu: the folders of watched runs, if not under Results
	closed bool              // guarded by mu
	wg     sync.WaitGroup    // the running runs
}

// NewServer returns a Server with no runs of its own; past runs are read from
// opts.Results when listed.
func NewServer(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Results == "" {
		opts.Results = "results"
	}
	return &Server{opts: opts, log: opts.Log, runs: map[string]*Run{}, dirs: map[string]string{}}
}

// Close stops every running run and waits until each has written its report.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	var running []*Run
	for _, r := range s.runs {
		running = append(running, r)
	}
	s.mu.Unlock()
	for _, r := range running {
		r.stop()
	}
	s.wg.Wait()
}

// Create checks a request and makes the run (it runs when Start is called, or now when
// the request says start). Every error names the field, as the config files' loader does.
func (s *Server) Create(req Request) (*Run, error) {
	if s.opts.ReadOnly {
		return nil, fmt.Errorf("%w: this coordinator shows its own run only; start runs with `coordinator serve`", ErrConflict)
	}
	r, err := s.build(req)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: the server is shutting down", ErrConflict)
	}
	r.ID = s.newIDLocked(r.Kind, r.Created)
	s.runs[r.ID] = r
	s.mu.Unlock()
	if req.Start {
		if err := s.Start(r.ID); err != nil { // created and started in one call, or not at all
			s.mu.Lock()
			delete(s.runs, r.ID)
			s.mu.Unlock()
			return nil, err
		}
	}
	return r, nil
}

// Check checks a request as Create does, and creates nothing.
func (s *Server) Check(req Request) error {
	_, err := s.build(req)
	return err
}

// decodeInto reads a JSON value into dst over its defaults, with the config loader's
// errors, prefixed by the request's field.
func decodeInto(field string, raw json.RawMessage, dst any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		if v, ok := dst.(config.Validator); ok {
			if err := v.Validate(); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrInvalid, field, err)
			}
		}
		return nil
	}
	if err := config.Decode(bytes.NewReader(raw), dst); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, field, err)
	}
	return nil
}

// build makes the run a request asks for, checking it; it is not registered.
func (s *Server) build(req Request) (*Run, error) {
	name := strings.TrimSpace(req.Name)
	if len(name) > 64 {
		return nil, fmt.Errorf("%w: name: at most 64 characters, got %d", ErrInvalid, len(name))
	}
	switch req.Kind {
	case KindSearch:
		return s.newSearch(name, req)
	case KindPlan:
		return s.newPlan(name, req)
	}
	return nil, fmt.Errorf("%w: kind %q: must be %q or %q", ErrInvalid, req.Kind, KindSearch, KindPlan)
}

func (s *Server) newSearch(name string, req Request) (*Run, error) {
	if len(req.Plan) > 0 {
		return nil, fmt.Errorf("%w: plan: not for a search (kind %q); a search takes config and agent_config", ErrInvalid, KindSearch)
	}
	cfg, joiner, err := s.config(req)
	if err != nil {
		return nil, err
	}
	lt := agentconfig.DefaultConfig()
	if err := decodeInto("agent_config", req.AgentConfig, &lt); err != nil {
		return nil, err
	}
	r := &Run{Kind: KindSearch, Name: name, Created: time.Now(), state: StateCreated, changed: make(chan struct{})}
	r.log = &progress{}
	c, err := searchrun.New(&cfg, lt, searchrun.Options{Log: s.log, Progress: r.log, Joiner: joiner, MinAgents: cfg.ClusterConfig.MinJoinedAgents})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if r.Name == "" {
		r.Name = fmt.Sprintf("Search of %s, up to %d users", lt.ConnectionConfiguration.ServerURL, cfg.ClusterConfig.MaxActiveUsers)
	}
	r.c, r.agents = c, agentKeys(cfg.ClusterConfig.Agents, joiner)
	r.start = func(ctx context.Context) error {
		_, err := searchrun.Finish(ctx, c, s.dir(r.ID), r.log)
		return err
	}
	return r, nil
}

func (s *Server) newPlan(name string, req Request) (*Run, error) {
	if len(req.AgentConfig) > 0 {
		return nil, fmt.Errorf("%w: agent_config: not for a plan (kind %q); the plan says what its users run", ErrInvalid, KindPlan)
	}
	if len(bytes.TrimSpace(req.Plan)) == 0 {
		return nil, fmt.Errorf("%w: plan: missing; a plan run needs one (Name, Targets, Scripts, Users, RampUpSec, SustainSec, WindDownSec)", ErrInvalid)
	}
	cfg, joiner, err := s.config(req)
	if err != nil {
		return nil, err
	}
	p := plan.DefaultPlan()
	if err := decodeInto("plan", req.Plan, &p); err != nil {
		return nil, err
	}
	r := &Run{Kind: KindPlan, Name: cmp.Or(name, p.Name), Created: time.Now(), state: StateCreated, changed: make(chan struct{})}
	r.log = &progress{}
	// Built now for its checks and its status; planrun builds the one that runs, with the
	// writers' files in the run's folder.
	c, err := coordinator.NewPlan(&cfg, &p, coordinator.Options{Log: s.log, Joiner: joiner})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	agents := p.Agents // the plan's own, else the config's
	if len(agents) == 0 {
		agents = cfg.ClusterConfig.Agents
	}
	r.c, r.agents = c, agentKeys(agents, joiner)
	r.start = func(ctx context.Context) error {
		_, _, err := planrun.Run(ctx, planrun.Options{Plan: &p, Config: &cfg, Dir: s.dir(r.ID), Log: s.log, Joiner: joiner,
			Started: func(c *coordinator.Coordinator) { r.setCoordinator(c) }}, r.log)
		return err
	}
	return r, nil
}

// config reads a request's coordinator config over the defaults. A config that sets
// ClusterConfig.JoinListen (any value: the server's own --join-listen is used) takes the
// agents that join this server (the joiner returned), besides those it lists.
func (s *Server) config(req Request) (coordinator.Config, *cluster.Joiner, error) {
	cfg := coordinator.DefaultConfig()
	if err := decodeInto("config", req.Config, &cfg); err != nil {
		return cfg, nil, err
	}
	if cfg.ClusterConfig.JoinListen == "" {
		return cfg, nil, nil
	}
	if s.opts.Joiner == nil {
		return cfg, nil, fmt.Errorf("%w: config: ClusterConfig.JoinListen %q: this coordinator accepts no joining agents (start it with --join-listen); list the agents in ClusterConfig.Agents",
			ErrInvalid, cfg.ClusterConfig.JoinListen)
	}
	cfg.ClusterConfig.JoinListen = s.opts.JoinAddr
	return cfg, s.opts.Joiner, nil
}

// JoinedAgents are the agents joined to this server now, by load test id.
func (s *Server) JoinedAgents() []string {
	if s.opts.Joiner == nil {
		return []string{}
	}
	return slices.Sorted(maps.Keys(s.opts.Joiner.Snapshot()))
}

// agentKeys names the agents a run drives: a load test id at an agent's URL, and "the
// joined agents" when it takes those.
func agentKeys(as []cluster.AgentConfig, joiner *cluster.Joiner) []string {
	out := make([]string, 0, len(as)+1)
	for _, a := range as {
		out = append(out, a.Id+" at "+strings.TrimRight(a.ApiURL, "/"))
	}
	if joiner != nil {
		out = append(out, "the joined agents")
	}
	return out
}

// idPattern is what a run's id (its folder's name) looks like; nothing else is read or
// deleted under the results folder.
var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// newIDLocked names a run by its kind and time, unique among the runs and the folders.
// s.mu is held.
func (s *Server) newIDLocked(kind string, at time.Time) string {
	base := kind + "-" + at.Format("20060102-150405")
	id := base
	for i := 2; ; i++ {
		_, mine := s.runs[id]
		if _, err := os.Stat(filepath.Join(s.opts.Results, id)); !mine && errors.Is(err, os.ErrNotExist) {
			return id
		}
		id = fmt.Sprintf("%s-%d", base, i)
	}
}

func (s *Server) dir(id string) string {
	s.mu.Lock()
	d, ok := s.dirs[id]
	s.mu.Unlock()
	if ok {
		return d
	}
	return filepath.Join(s.opts.Results, id)
}

// get returns a run of this process.
func (s *Server) get(id string) (*Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.runs[id]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("%w: run %q", ErrNotFound, id)
}

// Watch shows a coordinator that runs elsewhere (the one-shot `coordinator`, a plan, the
// demo) as a running run of this server; done marks it done, once its report is written
// to dir (its folder's files are then served).
func (s *Server) Watch(c *coordinator.Coordinator, kind, name, dir string) (id string, done func()) {
	r := &Run{Kind: kind, Name: name, Created: time.Now(), c: c, log: &progress{}, state: StateRunning, changed: make(chan struct{})}
	s.mu.Lock()
	r.ID = filepath.Base(dir)
	if !idPattern.MatchString(r.ID) {
		r.ID = s.newIDLocked(kind, r.Created)
	}
	s.runs[r.ID] = r
	s.dirs[r.ID] = dir
	s.mu.Unlock()
	return r.ID, func() {
		r.mu.Lock()
		r.setStateLocked(StateDone)
		r.mu.Unlock()
	}
}

// Start runs a created run on a goroutine the server owns (Close waits for it).
func (s *Server) Start(id string) error {
	r, err := s.get(id)
	if err != nil {
		return err
	}
	if other, agent := s.inUse(r); other != "" {
		return fmt.Errorf("%w: agent %s is driven by run %s, which is running; stop it first, or give this run other agents (or other ids)", ErrConflict, agent, other)
	}
	r.mu.Lock()
	if r.state != StateCreated {
		st := r.state
		r.mu.Unlock()
		return fmt.Errorf("%w: run %s is %s; only a created run starts", ErrConflict, id, st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	r.setStateLocked(StateRunning)
	r.mu.Unlock()
	s.wg.Go(func() {
		defer cancel()
		defer close(r.done)
		err := r.start(ctx)
		r.mu.Lock()
		if err != nil && !errors.Is(err, context.Canceled) && err.Error() != "" { // "": a verdict, already in the report
			r.err = err.Error()
		}
		r.setStateLocked(StateDone)
		r.mu.Unlock()
		if err != nil {
			s.log.Info("run ended", "id", id, "err", err)
		}
	})
	return nil
}

// setCoordinator is the plan's coordinator that runs (planrun builds it).
func (r *Run) setCoordinator(c *coordinator.Coordinator) {
	r.mu.Lock()
	r.c = c
	r.mu.Unlock()
}

// coordinator returns the run's coordinator: the one running, or the one built to check it.
func (r *Run) coordinator() *coordinator.Coordinator {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c
}

// inUse returns a running run that drives one of r's agents, and that agent.
func (s *Server) inUse(r *Run) (run, agent string) {
	s.mu.Lock()
	others := make([]*Run, 0, len(s.runs))
	for _, o := range s.runs {
		if o != r {
			others = append(others, o)
		}
	}
	s.mu.Unlock()
	for _, o := range others {
		if o.State() != StateRunning {
			continue
		}
		for _, a := range r.agents {
			if slices.Contains(o.agents, a) {
				return o.ID, a
			}
		}
	}
	return "", ""
}

func (r *Run) setStateLocked(st string) {
	r.state = st
	close(r.changed)
	r.changed = make(chan struct{})
}

// stop ends a running run and waits for its report; a run not running is left alone.
func (r *Run) stop() bool {
	r.mu.Lock()
	if r.state != StateRunning {
		r.mu.Unlock()
		return false
	}
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	cancel()
	<-done
	return true
}

// Stop ends a running run; its report is written before it returns.
func (s *Server) Stop(id string) error {
	r, err := s.get(id)
	if err != nil {
		return err
	}
	if !r.stop() {
		return fmt.Errorf("%w: run %s is %s; only a running run stops", ErrConflict, id, r.State())
	}
	return nil
}

// SetUsers changes a running plan's users (it holds them until the wind-down).
func (s *Server) SetUsers(id string, n int) error {
	r, err := s.get(id)
	if err != nil {
		return err
	}
	if r.Kind != KindPlan {
		return fmt.Errorf("%w: run %s is a search; the search decides its users (only a plan's can be changed)", ErrConflict, id)
	}
	if st := r.State(); st != StateRunning {
		return fmt.Errorf("%w: run %s is %s; users change only while it runs", ErrConflict, id, st)
	}
	if err := r.coordinator().SetUsers(n); err != nil {
		if errors.Is(err, coordinator.ErrBadUsers) {
			return fmt.Errorf("%w: amount %d: %v", ErrInvalid, n, err)
		}
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return nil
}

// Delete removes a run that is not running: from this process, and its folder.
func (s *Server) Delete(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: run %q", ErrNotFound, id)
	}
	s.mu.Lock()
	r, mine := s.runs[id]
	s.mu.Unlock()
	if mine && r.State() == StateRunning {
		return fmt.Errorf("%w: run %s is running; stop it first", ErrConflict, id)
	}
	_, err := os.Stat(filepath.Join(s.dir(id), "report.json"))
	if !mine && err != nil {
		return fmt.Errorf("%w: run %q", ErrNotFound, id)
	}
	if err == nil {
		if err := os.RemoveAll(s.dir(id)); err != nil {
			return err
		}
	}
	s.mu.Lock()
	delete(s.runs, id)
	s.mu.Unlock()
	return nil
}

// State is the run's state.
func (r *Run) State() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// summary describes a run of this process.
func (s *Server) summary(r *Run) Summary {
	r.mu.Lock()
	sum := Summary{ID: r.ID, Kind: r.Kind, Name: r.Name, State: r.state, Created: r.Created, Error: r.err, Live: true}
	c := r.c
	r.mu.Unlock()
	st, _ := c.Status()
	sum.ActiveUsers, sum.SupportedUsers, sum.Bracket, sum.Phase = st.ActiveUsers, st.SupportedUsers, st.Bracket, st.Phase
	if sum.State == StateDone {
		rep := c.Report()
		sum.Outcome, sum.Answer = rep.Outcome, rep.Answer()
		sum.Error = cmp.Or(sum.Error, rep.Error)
	}
	sum.Files = s.files(r.ID)
	return sum
}

// files lists the run folder's files the API serves.
func (s *Server) files(id string) []string {
	out := []string{}
	for _, f := range servedFiles {
		if _, err := os.Stat(filepath.Join(s.dir(id), f)); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// servedFiles are the files of a run's folder the API serves.
var servedFiles = []string{"report.json", "report.html", "metrics.csv", "metrics.jsonl"}

// List returns the runs of this process and the past ones in the results folder, newest
// first.
func (s *Server) List() []Summary {
	s.mu.Lock()
	mine := make([]*Run, 0, len(s.runs))
	for _, r := range s.runs {
		mine = append(mine, r)
	}
	s.mu.Unlock()
	out := make([]Summary, 0, len(mine))
	seen := map[string]bool{}
	for _, r := range mine {
		out = append(out, s.summary(r))
		seen[r.ID] = true
	}
	entries, _ := os.ReadDir(s.opts.Results)
	for _, e := range entries {
		if !e.IsDir() || seen[e.Name()] || !idPattern.MatchString(e.Name()) {
			continue
		}
		rep, err := s.pastReport(e.Name())
		if err != nil {
			continue
		}
		out = append(out, pastSummary(e.Name(), rep, s.files(e.Name())))
	}
	slices.SortFunc(out, func(a, b Summary) int { return b.Created.Compare(a.Created) })
	return out
}

// pastReport reads a past run's report.json.
func (s *Server) pastReport(id string) (coordinator.Report, error) {
	var rep coordinator.Report
	if !idPattern.MatchString(id) {
		return rep, fmt.Errorf("%w: run %q", ErrNotFound, id)
	}
	b, err := os.ReadFile(filepath.Join(s.dir(id), "report.json"))
	if err != nil {
		return rep, fmt.Errorf("%w: run %q", ErrNotFound, id)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("run %s: report.json: %w", id, err)
	}
	return rep, nil
}

func pastSummary(id string, rep coordinator.Report, files []string) Summary {
	kind, name := KindSearch, rep.Strategy+" search"
	if rep.Plan != nil {
		kind, name = KindPlan, rep.Plan.Name
	}
	return Summary{ID: id, Kind: kind, Name: name, State: StateFinished, Created: rep.StartTime, Error: rep.Error,
		SupportedUsers: rep.SupportedUsers, Bracket: rep.Bracket, Outcome: rep.Outcome, Answer: rep.Answer(), Files: files}
}

// Report returns a run's report: so far for a live run, as written for a past one.
func (s *Server) Report(id string) (coordinator.Report, error) {
	if r, err := s.get(id); err == nil {
		return r.coordinator().Report(), nil
	}
	return s.pastReport(id)
}

// Summary returns one run's summary.
func (s *Server) Summary(id string) (Summary, error) {
	if r, err := s.get(id); err == nil {
		return s.summary(r), nil
	}
	rep, err := s.pastReport(id)
	if err != nil {
		return Summary{}, err
	}
	return pastSummary(id, rep, s.files(id)), nil
}

// progress keeps a run's progress lines for the UI (the last maxLines).
type progress struct {
	mu    sync.Mutex
	lines []string
	part  []byte
}

const maxLines = 500

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.part = append(p.part, b...)
	for {
		i := bytes.IndexByte(p.part, '\n')
		if i < 0 {
			break
		}
		p.lines = append(p.lines, string(p.part[:i]))
		p.part = p.part[i+1:]
	}
	if len(p.lines) > maxLines {
		p.lines = slices.Delete(p.lines, 0, len(p.lines)-maxLines)
	}
	return len(b), nil
}

// Lines returns the progress lines so far.
func (p *progress) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}
