package cluster

import (
	"context"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/agentconfig"
)

// Agent is one load test on one agent, as the coordinator drives it. agent.Local (in
// process) and api.Remote (over HTTP) both implement it, with the same errors
// (agent.ErrNotFound, agent.ErrConflict, agent.ErrBadRequest).
type Agent interface {
	ID() string
	Create(ctx context.Context, cfg agentconfig.Config) error
	Run(ctx context.Context) (agent.Status, error)
	// SetUsers makes n users active; seq > 0 orders the calls, so a late or retried one
	// cannot move the count backwards.
	SetUsers(ctx context.Context, n int, seq uint64) (agent.Status, error)
	Status(ctx context.Context) (agent.Status, error)
	// Metrics returns the intervals recorded after interval since.
	Metrics(ctx context.Context, since uint64) (agent.MetricsPage, error)
	Stop(ctx context.Context) (agent.Status, error)
	Destroy(ctx context.Context) error
}

var (
	_ Agent = (*agent.Local)(nil)
	_ Agent = (*api.Remote)(nil)
)

// AgentConfig is one agent: the load test's id on it and its API's URL.
// AgentConfig is one agent the run drives (ClusterConfig.Agents, a plan's Agents).
type AgentConfig struct {
	Id     string //nolint:revive // seed field name
	ApiURL string //nolint:revive // seed field name
	Token  string // its bearer token, if it has one
}
