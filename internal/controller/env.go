// Package controller holds the behaviours of simulated Mattermost users (simulative, simple,
// noop, and scripted users through internal/script) and what they share: identity, login or
// sign-up, joining a team, the WebSocket, and metrics. Each user is a loadtest.User whose Run owns all its state.
package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/script"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/loadtest"
	"github.com/loadtest/loadtest/mattermost"
)

// Password is every simulated user's password (the seed's).
const Password = "testPass123$"

// Env is what the users of one agent share.
type Env struct {
	AgentID string
	Config  agentconfig.Config
	Metrics *usermetrics.Metrics
	Log     *slog.Logger
	http    *http.Client         // shared pool, or nil for a pool per user; with fasthttp, the WebSocket dials only
	fast    *mattermost.FastHTTP // shared pool of a fasthttp agent, or nil
	script  *script.Runtime
	events  *mattermost.EventCache // the users' WebSockets decode each broadcast once
}

// NewEnv builds the shared environment of an agent's users.
func NewEnv(agentID string, cfg agentconfig.Config, m *usermetrics.Metrics, log *slog.Logger) *Env {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Env{AgentID: agentID, Config: cfg, Metrics: m, Log: log, events: mattermost.NewEventCache(0)}
	switch {
	case e.fastHTTP():
		e.http = e.newHTTP() // the WebSocket dials: their connections leave the pool, so one serves all users
		if cfg.ConnectionConfiguration.ConnectionPool == "agent" {
			e.fast = e.newFast()
		}
	case cfg.ConnectionConfiguration.ConnectionPool == "agent":
		e.http = e.newHTTP()
	}
	return e
}

// PoolPerUser says whether each user's client has its own connection pool, to close when
// the user leaves.
func (e *Env) PoolPerUser() bool {
	return e.Config.ConnectionConfiguration.ConnectionPool != "agent"
}

// fastHTTP says whether REST calls go through fasthttp.
func (e *Env) fastHTTP() bool {
	return cmp.Or(e.Config.ConnectionConfiguration.HTTPClient, "fasthttp") == "fasthttp"
}

func (e *Env) transportConfig() mattermost.TransportConfig {
	cc := e.Config.ConnectionConfiguration
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	return mattermost.TransportConfig{
		RequestTimeout: ms(cc.RequestTimeoutMilliseconds), MaxIdleConns: cc.MaxIdleConns,
		MaxIdleConnsPerHost: cc.MaxIdleConnsPerHost, IdleConnTimeout: ms(cc.IdleConnTimeoutMilliseconds),
	}
}

func (e *Env) newFast() *mattermost.FastHTTP {
	f, err := mattermost.NewFastHTTP(e.Config.ConnectionConfiguration.ServerURL, e.transportConfig())
	if err != nil {
		return nil // a bad ServerURL: mattermost.New reports it for every user
	}
	return f
}

func (e *Env) newHTTP() *http.Client { return mattermost.NewHTTPClient(e.transportConfig()) }

// Username is user id's name: "{agent-id}-user{n}", so agents need no shared state.
func (e *Env) Username(id int) string { return Username(e.AgentID, id) }

// Username is the account of user id on the agent (or load test) agentID.
func Username(agentID string, id int) string { return fmt.Sprintf("%s-user%d", agentID, id) }

// Preflight checks, before any load, that the users of cfg can work against its target:
// the server answers its ping, and (for Mattermost users) the first user of agentID logs
// in, signing up if needed, and joins a team; it then logs out. Each failure is one error
// that says what to do. Scripted users only need the ping: scripts decide what they call.
func Preflight(ctx context.Context, cfg agentconfig.Config, agentID string) error {
	url := cfg.ConnectionConfiguration.ServerURL
	c, err := mattermost.New(url, mattermost.Options{HTTPClient: mattermost.NewHTTPClient(mattermost.TransportConfig{RequestTimeout: 10 * time.Second})})
	if err != nil {
		return fmt.Errorf("ConnectionConfiguration.ServerURL: %w", err)
	}
	defer c.CloseIdleConnections()
	if err := c.Ping(ctx); err != nil {
		return fmt.Errorf("the server at ConnectionConfiguration.ServerURL %s does not answer GET /api/v4/system/ping: %w", url, err)
	}
	if cfg.UserControllerConfiguration.Type == "script" {
		return nil
	}
	name := Username(agentID, 1)
	if _, err := LoginOrSignUp(ctx, c, name); err != nil {
		return fmt.Errorf("user %s cannot log in or sign up on %s: %w (the server must allow sign-up, or the users must exist: `loadtest init` creates them)", name, url, err)
	}
	defer logout(ctx, c)
	if _, _, err := JoinTeam(ctx, c, name); err != nil {
		return fmt.Errorf("user %s cannot join a team on %s: %w", name, url, err)
	}
	return nil
}

// OpenPacing reports whether users' actions are due a think time after the last was due
// rather than after it ended (UserControllerConfiguration.Pacing "open").
func (e *Env) OpenPacing() bool { return e.Config.UserControllerConfiguration.Pacing == "open" }

// Multiplier is user id's think-time multiplier, drawn from RatesDistribution by a hash of
// the id: the same user always gets the same one, and the shares hold over many users.
func (e *Env) Multiplier(id int) float64 {
	rd := e.Config.UserControllerConfiguration.RatesDistribution
	if len(rd) == 0 {
		return 1
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", e.AgentID, id)
	u := float64(h.Sum64()%1_000_000) / 1_000_000
	acc := 0.0
	for _, r := range rd {
		acc += r.Percentage
		if u < acc {
			return r.Multiplier()
		}
	}
	return rd[len(rd)-1].Multiplier()
}

// NewClient returns a client for one user, with the agent's or its own connection pool.
func (e *Env) NewClient() (*mattermost.Client, error) {
	opts := mattermost.Options{HTTPClient: e.http, FastHTTP: e.fast}
	if opts.HTTPClient == nil {
		opts.HTTPClient = e.newHTTP()
	}
	if e.fastHTTP() && opts.FastHTTP == nil {
		opts.FastHTTP = e.newFast()
	}
	if e.Metrics != nil {
		opts.Observer = e.Metrics.ObserveRequest
	}
	return mattermost.New(e.Config.ConnectionConfiguration.ServerURL, opts)
}

// LoginOrSignUp logs in, and signs the user up first if it cannot.
func LoginOrSignUp(ctx context.Context, c *mattermost.Client, username string) (mattermost.User, error) {
	u, err := c.Login(ctx, username, Password)
	if err == nil {
		return u, nil
	}
	if s := mattermost.StatusOf(err); s == 0 || s >= 500 {
		return mattermost.User{}, err // the server is unwell: signing up will not help
	}
	if _, err := c.CreateUser(ctx, username, username+"@example.com", Password); err != nil && !strings.Contains(err.Error(), "already exists") {
		return mattermost.User{}, fmt.Errorf("sign up %s: %w", username, err)
	}
	return c.Login(ctx, username, Password)
}

// ErrNoTeam says there is no team a user could join.
var ErrNoTeam = errors.New("no open team to join; run `loadtest init` first")

// JoinTeam returns a team the user is in, joining one (chosen by a hash of the user name) if
// it is in none. Joining first lists the teams and the first page of users, as the
// reference's joinTeam does; those users are returned for the caller's store.
func JoinTeam(ctx context.Context, c *mattermost.Client, username string) (string, []mattermost.User, error) {
	ms, err := c.GetTeamMembersForUser(ctx)
	if err != nil {
		return "", nil, err
	}
	if len(ms) > 0 {
		return ms[0].TeamID, nil, nil
	}
	teams, err := c.GetTeams(ctx, 0, 100)
	if err != nil {
		return "", nil, err
	}
	users, err := c.GetUsers(ctx, mattermost.UsersQuery{PerPage: 100}) // the team picker's first page, as the reference's joinTeam
	if err != nil {
		return "", nil, err
	}
	var open []mattermost.Team
	for _, t := range teams {
		if t.AllowOpenInvite {
			open = append(open, t)
		}
	}
	if len(open) == 0 {
		return "", nil, ErrNoTeam
	}
	h := fnv.New32a()
	h.Write([]byte(username))
	t := open[int(h.Sum32())%len(open)]
	if _, err := c.AddTeamMember(ctx, t.ID, c.UserID()); err != nil {
		return "", nil, err
	}
	return t.ID, users, nil
}

// logout ends the session on the way out, on a context that outlives the user's.
func logout(ctx context.Context, c *mattermost.Client) {
	if c.Token() == "" { // already logged out (a LogoutLogin the user's leaving cut short)
		return
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = c.Logout(lctx) // best effort: the user is leaving either way
}

// Factory returns the NewUserFunc for the configured controller type.
func Factory(e *Env) (loadtest.NewUserFunc, error) {
	switch t := e.Config.UserControllerConfiguration.Type; t {
	case "noop":
		return func(id int) (loadtest.User, error) { return &Noop{env: e, id: id}, nil }, nil
	case "simulative":
		picker := NewPicker(e.Config.UserControllerConfiguration.Simulative.ActionWeights)
		return func(id int) (loadtest.User, error) { return newSimulative(e, picker, id), nil }, nil
	case "simple":
		actions := e.Config.UserControllerConfiguration.Simple.Actions
		return func(id int) (loadtest.User, error) {
			s := newSimulative(e, Picker{}, id)
			s.simple = actions
			return s, nil
		}, nil
	case "script":
		rt, err := e.scriptRuntime()
		if err != nil {
			return nil, err
		}
		e.script = rt
		return func(id int) (loadtest.User, error) { return rt.NewUser(id), nil }, nil
	default:
		return nil, fmt.Errorf(`UserControllerConfiguration.Type %q: must be "simulative", "simple", "noop" or "script"`, t)
	}
}

// scriptRuntime compiles the configured scripts and builds their runtime.
func (e *Env) scriptRuntime() (*script.Runtime, error) {
	sc := e.Config.UserControllerConfiguration.Script
	o := script.Options{AgentID: e.AgentID, Targets: sc.Targets, Metrics: e.Metrics, Log: e.Log,
		MaxSteps: sc.MaxStepsBetweenCalls, MaxResponseBytes: sc.MaxResponseBytes, MemoryLimit: uint64(sc.MemoryLimitMB) << 20}
	if len(o.Targets) == 0 {
		o.Targets = []string{e.Config.ConnectionConfiguration.ServerURL}
	}
	if e.http != nil {
		o.HTTP = func() *http.Client { return e.http }
	} else {
		o.HTTP, o.PerUserPool = e.newHTTP, true
	}
	for i, s := range sc.Scripts {
		p, err := script.Compile(s.Name, s.Source)
		if err != nil {
			return nil, fmt.Errorf("UserControllerConfiguration.Script.Scripts[%d]: %w", i, err)
		}
		o.Scripts = append(o.Scripts, script.Script{Program: p, Params: s.Params, Share: cmp.Or(s.Share, 1),
			Pace: time.Duration(s.PaceMs) * time.Millisecond})
	}
	return script.NewRuntime(o)
}

// Close closes the idle connections of the agent's shared pool, if it has one. Call it when
// the users are gone.
func (e *Env) Close() {
	if e.script != nil {
		e.script.Close()
	}
	if e.http != nil {
		e.http.CloseIdleConnections()
	}
	if e.fast != nil {
		e.fast.CloseIdleConnections()
	}
}
