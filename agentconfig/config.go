// Package agentconfig is the agent's configuration: the schema of config.json (with
// mattermost-load-test-ng's field names), its defaults, and its validation, which compiles
// scripted users' Starlark to check it. The engine (package loadtest) knows nothing of it:
// the agent, the coordinator and the plain run read it and build users from it.
package agentconfig

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/logging"
	"github.com/loadtest/loadtest/internal/threshold"
)

// LogSettings are the seed's logging settings (console and file, level, JSON or text).
type LogSettings = logging.Settings

// Config is an agent's configuration: the seed's config.json, with its field names. Start
// from DefaultConfig; config/config.default.json holds the same values.
type Config struct {
	ConnectionConfiguration     ConnectionConfiguration
	UserControllerConfiguration UserControllerConfiguration
	InstanceConfiguration       InstanceConfiguration
	UsersConfiguration          UsersConfiguration
	LogSettings                 LogSettings
	// Thresholds are the plain run's pass/fail criteria (`loadtest` without a subcommand,
	// with its --threshold flags added), checked over the whole run at its end: "p99<500ms",
	// "error_rate<1%", "route GET /users/me p95<200ms" (the grammar is threshold.Syntax).
	// One that fails makes the run exit 99. Agents ignore them.
	Thresholds []string
}

// ConnectionConfiguration says where the target is and how to talk to it.
type ConnectionConfiguration struct {
	ServerURL     string // e.g. http://localhost:8065
	WebSocketURL  string // e.g. ws://localhost:8065; empty: derived from ServerURL
	AdminEmail    string // a system admin, for `loadtest init`
	AdminPassword string // never logged or reported

	// HTTP transport. HTTPClient "fasthttp" (the default; empty means it too) sends the REST
	// calls with valyala/fasthttp, for about half the CPU per request of "net/http", which
	// has HTTP/2 and honours HTTP_PROXY (the WebSocket dials through net/http either way).
	// ConnectionPool "agent" shares one pool of keep-alive connections among all users of the
	// agent (fewest sockets); "user" gives each user its own, as each browser has (realistic
	// connection counts at the server). fasthttp keeps no cap on idle connections, so
	// MaxIdleConns and MaxIdleConnsPerHost apply to net/http only.
	HTTPClient                  string
	ConnectionPool              string
	MaxIdleConns                int
	MaxIdleConnsPerHost         int
	IdleConnTimeoutMilliseconds int
	RequestTimeoutMilliseconds  int
}

// UserControllerConfiguration chooses the users' behaviour.
type UserControllerConfiguration struct {
	Type string // "simulative", "simple", "noop" or "script"
	// Pacing is when a user's next action is due. "closed" (the default; empty means it
	// too): a think time after the last action ended, so a slower target gets fewer
	// requests, as people do. "open": a think time after the last action was due, so the
	// users keep their rate whatever the latency (k6's arrival-rate executors, wrk2); a user
	// that falls more than a think time behind drops the arrivals it missed and counts them
	// (loadtest_dropped_arrivals_total) instead of bursting to catch up.
	Pacing            string
	RatesDistribution []RateDistribution // shares of users by think-time multiplier; empty: all 1
	ServerVersion     string             // overrides the version read from the server; empty: read it
	Simulative        SimulativeConfig   // the simulative users' think times and action weights
	Simple            SimpleConfig       // the simple users' cycle of actions
	Script            ScriptConfig       // the scripted users' scripts (Type "script")
}

// RateDistribution is a share of users whose think times are multiplied by ThinkTimeMultiplier:
// 2 means half as many actions per second. The seed calls it Rate, which is accepted as a
// synonym, though a multiplier of think time is a period, not a rate.
type RateDistribution struct {
	ThinkTimeMultiplier float64
	Rate                float64 // the seed's name for ThinkTimeMultiplier
	Percentage          float64 // share of users, 0..1; the shares add up to 1
}

// Multiplier returns ThinkTimeMultiplier, or Rate when only that is set.
func (r RateDistribution) Multiplier() float64 {
	if r.ThinkTimeMultiplier != 0 {
		return r.ThinkTimeMultiplier
	}
	return r.Rate
}

// InstanceConfiguration is what `loadtest init` creates.
type InstanceConfiguration struct {
	NumUsers                    int // users created, named as the agent names them (ours; the seed's users sign up)
	NumTeams                    int
	NumChannels                 int // per team, split by the Percent*Channels shares
	NumPosts                    int
	NumReactions                int
	NumAdmins                   int
	PercentReplies              float64
	PercentRepliesInLongThreads float64
	PercentUrgentPosts          float64
	PercentPublicChannels       float64
	PercentPrivateChannels      float64
	PercentDirectChannels       float64
	PercentGroupChannels        float64
}

// UsersConfiguration sizes the population.
type UsersConfiguration struct {
	UsersFilePath          string  // optional file of "email password" lines to log in with
	InitialActiveUsers     int     // started by Run
	MaxActiveUsers         int     // the most users this agent runs
	AvgSessionsPerUser     float64 // > 1: some users log in from several sessions
	PercentOfUsersAreAdmin float64 // share of users that log in as the admin
	MaxActiveBrowserUsers  int     // accepted for seed compatibility; browser users are not supported
}

// DefaultConfig returns the defaults, the seed's where it has them.
func DefaultConfig() Config {
	ls := logging.DefaultSettings()
	ls.ConsoleLevel = "WARN"
	return Config{
		ConnectionConfiguration: ConnectionConfiguration{
			ServerURL: "http://localhost:8065", WebSocketURL: "ws://localhost:8065",
			AdminEmail: "sysadmin@sample.mattermost.com", AdminPassword: "Sys@dmin-sample1",
			HTTPClient: "fasthttp", ConnectionPool: "agent", MaxIdleConns: 100, MaxIdleConnsPerHost: 128,
			IdleConnTimeoutMilliseconds: 90000, RequestTimeoutMilliseconds: 30000,
		},
		UserControllerConfiguration: UserControllerConfiguration{
			Type:              "simulative",
			Pacing:            "closed",
			RatesDistribution: []RateDistribution{{ThinkTimeMultiplier: 1, Percentage: 1}},
			Simulative:        DefaultSimulativeConfig(),
			Simple:            DefaultSimpleConfig(),
			Script:            ScriptConfig{Targets: []string{}, Scripts: []ScriptSpec{}},
		},
		InstanceConfiguration: InstanceConfiguration{
			NumUsers: 100, NumTeams: 2, NumChannels: 10, PercentReplies: 0.5, PercentRepliesInLongThreads: 0.05,
			PercentUrgentPosts: 0.001, PercentPublicChannels: 0.2, PercentPrivateChannels: 0.1,
			PercentDirectChannels: 0.6, PercentGroupChannels: 0.1,
		},
		UsersConfiguration: UsersConfiguration{InitialActiveUsers: 0, MaxActiveUsers: 2000, AvgSessionsPerUser: 1,
			PercentOfUsersAreAdmin: 0.0005},
		LogSettings: ls,
		Thresholds:  []string{},
	}
}

// Validate checks every field and reports all that are wrong.
func (c *Config) Validate() error {
	var ck config.Checker
	cc := c.ConnectionConfiguration
	ck.Check(validURL(cc.ServerURL, "http", "https"), "ConnectionConfiguration.ServerURL", cc.ServerURL, "must be an http(s):// URL")
	ck.Check(cc.WebSocketURL == "" || validURL(cc.WebSocketURL, "ws", "wss"), "ConnectionConfiguration.WebSocketURL", cc.WebSocketURL, "must be a ws(s):// URL or empty")
	ck.Check(config.OneOf(cc.HTTPClient, "", "fasthttp", "net/http"), "ConnectionConfiguration.HTTPClient", cc.HTTPClient, `must be "fasthttp" or "net/http"`)
	ck.Check(config.OneOf(cc.ConnectionPool, "agent", "user"), "ConnectionConfiguration.ConnectionPool", cc.ConnectionPool, `must be "agent" or "user"`)
	ck.Check(cc.MaxIdleConns >= 0, "ConnectionConfiguration.MaxIdleConns", cc.MaxIdleConns, "must be >= 0")
	ck.Check(cc.MaxIdleConnsPerHost >= 0, "ConnectionConfiguration.MaxIdleConnsPerHost", cc.MaxIdleConnsPerHost, "must be >= 0")
	ck.Check(cc.IdleConnTimeoutMilliseconds >= 0, "ConnectionConfiguration.IdleConnTimeoutMilliseconds", cc.IdleConnTimeoutMilliseconds, "must be >= 0")
	ck.Check(cc.RequestTimeoutMilliseconds >= 0, "ConnectionConfiguration.RequestTimeoutMilliseconds", cc.RequestTimeoutMilliseconds, "must be >= 0")

	uc := c.UserControllerConfiguration
	ck.Check(config.OneOf(uc.Type, "simulative", "simple", "noop", "script"), "UserControllerConfiguration.Type", uc.Type, `must be "simulative", "simple", "noop" or "script"`)
	ck.Check(config.OneOf(uc.Pacing, "", "closed", "open"), "UserControllerConfiguration.Pacing", uc.Pacing, `must be "closed" or "open" (scripts pace themselves with PaceMs)`)
	sum := 0.0
	for i, r := range uc.RatesDistribution {
		field := fmt.Sprintf("UserControllerConfiguration.RatesDistribution[%d]", i)
		ck.Check(r.ThinkTimeMultiplier == 0 || r.Rate == 0 || r.ThinkTimeMultiplier == r.Rate, field+".Rate", r.Rate, "must equal ThinkTimeMultiplier when both are set (they are synonyms)")
		ck.Check(r.Multiplier() > 0, field+".ThinkTimeMultiplier", r.Multiplier(), "must be > 0")
		ck.Check(r.Percentage >= 0 && r.Percentage <= 1, field+".Percentage", r.Percentage, "must be in [0, 1]")
		sum += r.Percentage
	}
	ck.Check(len(uc.RatesDistribution) == 0 || math.Abs(sum-1) < 1e-9, "UserControllerConfiguration.RatesDistribution", sum, "percentages must add up to 1")
	ck.Add("UserControllerConfiguration.Simulative", uc.Simulative.Validate())
	ck.Add("UserControllerConfiguration.Simple", uc.Simple.Validate())
	if uc.Type == "script" {
		ck.Add("UserControllerConfiguration.Script", uc.Script.Validate())
	}

	ic := c.InstanceConfiguration
	ck.Check(ic.NumUsers >= 3, "InstanceConfiguration.NumUsers", ic.NumUsers, "must be >= 3 (group channels need three)")
	ck.Check(ic.NumTeams > 0, "InstanceConfiguration.NumTeams", ic.NumTeams, "must be > 0")
	ck.Check(ic.NumChannels >= 0, "InstanceConfiguration.NumChannels", ic.NumChannels, "must be >= 0")
	ck.Check(ic.NumPosts >= 0, "InstanceConfiguration.NumPosts", ic.NumPosts, "must be >= 0")
	ck.Check(ic.NumReactions >= 0, "InstanceConfiguration.NumReactions", ic.NumReactions, "must be >= 0")
	ck.Check(ic.NumAdmins >= 0, "InstanceConfiguration.NumAdmins", ic.NumAdmins, "must be >= 0")
	for name, p := range map[string]float64{"PercentReplies": ic.PercentReplies, "PercentRepliesInLongThreads": ic.PercentRepliesInLongThreads,
		"PercentUrgentPosts": ic.PercentUrgentPosts, "PercentPublicChannels": ic.PercentPublicChannels,
		"PercentPrivateChannels": ic.PercentPrivateChannels, "PercentDirectChannels": ic.PercentDirectChannels,
		"PercentGroupChannels": ic.PercentGroupChannels} {
		ck.Check(p >= 0 && p <= 1, "InstanceConfiguration."+name, p, "must be in [0, 1]")
	}
	chSum := ic.PercentPublicChannels + ic.PercentPrivateChannels + ic.PercentDirectChannels + ic.PercentGroupChannels
	ck.Check(math.Abs(chSum-1) < 1e-9, "InstanceConfiguration.Percent*Channels", chSum, "the four channel shares must add up to 1")

	u := c.UsersConfiguration
	ck.Check(u.MaxActiveUsers > 0, "UsersConfiguration.MaxActiveUsers", u.MaxActiveUsers, "must be > 0")
	ck.Check(u.InitialActiveUsers >= 0 && u.InitialActiveUsers <= u.MaxActiveUsers, "UsersConfiguration.InitialActiveUsers", u.InitialActiveUsers, "must be in [0, MaxActiveUsers]")
	ck.Check(u.AvgSessionsPerUser >= 1, "UsersConfiguration.AvgSessionsPerUser", u.AvgSessionsPerUser, "must be >= 1")
	ck.Check(u.PercentOfUsersAreAdmin >= 0 && u.PercentOfUsersAreAdmin <= 1, "UsersConfiguration.PercentOfUsersAreAdmin", u.PercentOfUsersAreAdmin, "must be in [0, 1]")
	ck.Check(u.MaxActiveBrowserUsers >= 0, "UsersConfiguration.MaxActiveBrowserUsers", u.MaxActiveBrowserUsers, "must be >= 0")
	ck.Add("LogSettings", c.LogSettings.Validate())
	_, err := threshold.ParseAll("Thresholds", c.Thresholds)
	ck.Add("", err)
	return ck.Err()
}

// Redacted returns a copy of s whose secret params are hidden.
func (s ScriptSpec) Redacted() ScriptSpec {
	s.Params = redactParams(s.Params)
	return s
}

// redactParams hides the values of params whose names say they are secret (password,
// token, secret, key), so a report or a status never shows them.
func redactParams(p map[string]any) map[string]any {
	if p == nil {
		return nil
	}
	out := make(map[string]any, len(p))
	for k, v := range p {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "password") || strings.Contains(lk, "token") || strings.Contains(lk, "secret") || strings.HasSuffix(lk, "key") {
			v = "(hidden)"
		}
		out[k] = v
	}
	return out
}

func validURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && config.OneOf(strings.ToLower(u.Scheme), schemes...)
}

// Redacted returns a copy of c with the admin password hidden, for status and logs.
func (c Config) Redacted() Config {
	if c.ConnectionConfiguration.AdminPassword != "" {
		c.ConnectionConfiguration.AdminPassword = "(hidden)"
	}
	c.UserControllerConfiguration.RatesDistribution = append([]RateDistribution(nil), c.UserControllerConfiguration.RatesDistribution...)
	c.UserControllerConfiguration.Simulative.ActionWeights = maps.Clone(c.UserControllerConfiguration.Simulative.ActionWeights)
	c.UserControllerConfiguration.Simple.Actions = slices.Clone(c.UserControllerConfiguration.Simple.Actions)
	c.UserControllerConfiguration.Script.Scripts = slices.Clone(c.UserControllerConfiguration.Script.Scripts)
	c.Thresholds = slices.Clone(c.Thresholds)
	for i, s := range c.UserControllerConfiguration.Script.Scripts {
		c.UserControllerConfiguration.Script.Scripts[i] = s.Redacted()
	}
	return c
}
