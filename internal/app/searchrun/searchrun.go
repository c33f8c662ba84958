// Package searchrun runs a capacity search as `coordinator` and `coordinator serve` do: a
// coordinator whose preflight also logs a user of the agent config in, run to its end, and
// its report written to a folder.
package searchrun

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/internal/controller"
)

// Options are what a search takes besides its configs.
type Options struct {
	Log       *slog.Logger
	Progress  io.Writer       // progress lines; nil: none
	Joiner    *cluster.Joiner // agents that join, besides the configured ones
	MinAgents int             // how many must have joined before it starts
}

// New checks the configs and builds the search. Its preflight, after the agents and the
// monitor answered, logs a user of the agent config in on the target.
func New(cfg *coordinator.Config, lt agentconfig.Config, o Options) (*coordinator.Coordinator, error) {
	out := o.Progress
	if out == nil {
		out = io.Discard
	}
	return coordinator.New(cfg, lt, coordinator.Options{Log: o.Log, Progress: out, Joiner: o.Joiner, MinAgents: o.MinAgents,
		Preflight: func(ctx context.Context) error { return PreflightUsers(ctx, cfg, lt, out) }})
}

// Finish runs c until it ends (ctx's end stops it: the report says so) and writes its report
// to dir; it says where on out.
func Finish(ctx context.Context, c *coordinator.Coordinator, dir string, out io.Writer) (coordinator.Report, error) {
	if err := c.Run(ctx); err != nil {
		return coordinator.Report{}, err
	}
	rep := c.Report()
	if err := rep.Write(dir); err != nil {
		return rep, err
	}
	fmt.Fprintf(out, "coordinator: report: %s, %s\n", filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html"))
	return rep, nil
}

// PreflightUsers checks, before any load, that a user of the agent config can log in (or
// sign up) and join a team on the target, from this host, as the first agent's first user.
func PreflightUsers(ctx context.Context, cfg *coordinator.Config, lt agentconfig.Config, out io.Writer) error {
	id := "preflight"
	if len(cfg.ClusterConfig.Agents) > 0 {
		id = cfg.ClusterConfig.Agents[0].Id
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := controller.Preflight(pctx, lt, id); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("preflight: %w; no load was started", err)
	}
	what := "answers, and its users can log in and join a team"
	if lt.UserControllerConfiguration.Type == "script" {
		what = "answers"
	}
	fmt.Fprintf(out, "coordinator: preflight: %s %s\n", lt.ConnectionConfiguration.ServerURL, what)
	return nil
}
